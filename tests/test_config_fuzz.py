"""Fuzzing the config loader: any file or mapping gives a SiteConfig or a ConfigError."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockscan.config import load_config, parse_config
from dockscan.errors import ConfigError

KEYS = ["site", "broker", "gateway", "stations", "devices", "id", "dock", "kind", "port",
        "protocol", "url", "min_kg", "max_kg", "fps", "roi", "timezone", "x"]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["scale", "camera", "scanner", "mt-sics", "LGG", "5"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=5))
def test_any_mapping_validates_or_names_the_problem(data: dict) -> None:
    try:
        parse_config(data, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml")
        assert exc.reason


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_file_content_loads_or_names_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "site.toml"
    path.write_bytes(content)
    try:
        load_config(path)
    except ConfigError as exc:
        assert exc.path == str(path)
        assert exc.reason
