"""`dockscan init`: a starter site config that validates, and never overwrites by accident."""

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockscan.cli import DEFAULT_CONFIG, cli
from dockscan.config import load_config
from dockscan.init import CONFIG_DIR, packaged_config, render_site

REPO = Path(__file__).resolve().parents[1]


def test_packaged_configs_live_in_the_package_and_demo_defaults_to_one() -> None:
    assert CONFIG_DIR == REPO / "dockscan" / "configs"
    assert Path(DEFAULT_CONFIG) == packaged_config("demo.toml")
    assert load_config(DEFAULT_CONFIG).site.id == "LGG"
    assert not (REPO / "config" / "demo.toml").exists()  # one copy of each file


def test_init_writes_a_config_that_check_config_accepts(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "etc" / "site.toml"
    result = runner.invoke(cli, ["init", "-o", str(out), "--site", "BRU-2", "--stations", "3"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (site BRU-2, 3 stations)" in result.output
    checked = runner.invoke(cli, ["check-config", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "ok (site BRU-2, 3 stations, 9 devices)" in checked.output
    cfg = load_config(out)
    assert [(s.id, s.dock) for s in cfg.stations] == [("dock01", "01"), ("dock02", "02"),
                                                       ("dock03", "03")]  # fmt: skip
    assert len({s.outbox for s in cfg.stations}) == 3
    assert [s.screen_bind for s in cfg.stations] == [f"127.0.0.1:{8100 + i}" for i in (1, 2, 3)]
    assert cfg.station("dock02").devices[2].evidence_dir.endswith("/dock02")


def test_init_keeps_the_example_comments_and_names_each_station(tmp_path: Path) -> None:
    text = render_site("LGG", 2, "site.toml")
    assert text.startswith("# dockscan site configuration for site LGG, written by `dockscan init`")
    assert "dockscan check-config site.toml" in text
    assert "# mt-sics, toledo-8217" in text  # the first station keeps the example's comments
    assert text.count("# mt-sics, toledo-8217") == 1
    assert "# Station dock02 at dock 02: set each device's port" in text
    assert "dock07-a" not in text
    example = tomllib.loads(packaged_config("dockscan.example.toml").read_text())
    rendered = tomllib.loads(text)
    assert rendered["broker"] == example["broker"] and rendered["gateway"] == example["gateway"]


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "site.toml"
    out.write_text("# mine\n")
    refused = runner.invoke(cli, ["init", "-o", str(out)])
    assert refused.exit_code == 1
    assert f"error: {out} exists; use --force to overwrite it" in refused.output
    assert out.read_text() == "# mine\n"
    forced = runner.invoke(cli, ["init", "-o", str(out), "--force", "--site", "LGG"])
    assert forced.exit_code == 0, forced.output
    assert load_config(out).site.id == "LGG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "a b"], "--site must be 1-64 of A-Z a-z 0-9 _ -"),
        (["--site", 'x"y'], "--site must be"),
        (["--stations", "0"], "--stations must be between 1 and 99"),
        (["--stations", "100"], "--stations must be between 1 and 99"),
    ],
)
def test_init_rejects_bad_options_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "site.toml"
    result = CliRunner().invoke(cli, ["init", "-o", str(out), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()


def test_demo_with_a_missing_config_says_so_instead_of_using_defaults(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(cli, ["demo", "-c", str(missing), "--workdir", str(tmp_path)])
    assert result.exit_code == 2
    assert f"error: {missing}: file not found" in result.output
