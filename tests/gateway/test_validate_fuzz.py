"""Fuzz the gateway's validation entry point: no exception escapes, every reject has a reason.

`validate(topics, topic, payload, max_bytes)` is what the ingest calls for every MQTT message.
"""

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dockscan.events import Contract, DeviceState, ParcelEvent, StationStatus, Telemetry
from dockscan.ids import utcnow
from dockscan.topics import Topics
from gateway.validate import MODELS, Rejected, validate
from tests.gateway.ingest_support import parcel, topic


def paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    """Return the path of every value inside a JSON document (the root excluded)."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    )
    out = []
    for key, value in items:
        out.append((*prefix, key))
        out += paths(value, (*prefix, key))
    return out


TOPICS = Topics()
MAX_BYTES = 64 * 1024
INT64 = 2**63
BASE = parcel("st1", 7)  # a real event, as an edge sends it
BASE_DOC: dict[str, Any] = json.loads(BASE.to_json())
SCANNER = DeviceState(kind="scanner", state="fault", reason="unplugged", since=utcnow())
BASES: dict[str, Contract] = {  # one real message of every kind the gateway ingests
    "parcel": BASE,
    "status": StationStatus(site="T1", station="st1", dock="d1", state="online", session=3,
                            ts=utcnow(), version="test", devices={"scan": SCANNER}),
    "telemetry": Telemetry(site="T1", station="st1", ts=utcnow(), session=3, interval_s=5,
                           counters={"scans": 12}, devices={"scan": SCANNER}, outbox_depth=2,
                           oldest_pending_age_s=1.5),
}  # fmt: skip
MUTABLE = [
    (kind, path) for kind, base in BASES.items() for path in paths(json.loads(base.to_json()))
]
REASONS = (  # every reject names its class first
    "bad topic: ",
    "unexpected topic kind ",
    "oversized payload: ",
    "invalid UTF-8 at byte ",
    "bad JSON: ",
    "wrong schema version: ",
    "missing fields: ",
    "invalid field ",
    "topic names ",
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates too
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | any_text
    | st.sampled_from(["", "OK", "kg", "T1", "st1", "2026-11-27T09:31:12.481Z", "inf", "NaN"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
kinds = st.sampled_from(["parcel", "status", "telemetry"])
SAME_TYPE = {str: st.text(max_size=80), int: st.integers(), float: st.floats(), bool: st.booleans()}


def run(topic_: str, payload: bytes, max_bytes: int = MAX_BYTES) -> Contract | Rejected | None:
    """Validate one message; return the model, None (retired station) or the Rejected."""
    try:
        return validate(TOPICS, topic_, payload, max_bytes)
    except Rejected as exc:  # anything else escapes and fails the test
        assert exc.reason.startswith(REASONS), exc.reason
        assert "\n" not in exc.reason and exc.reason == str(exc)
        exc.reason.encode()  # SQLite must be able to store it: no lone surrogates
        return exc


def encode(value: object, ascii_only: bool = False) -> bytes:
    """Serialise a JSON value; lone surrogates become invalid UTF-8 (\\uXXXX if ascii_only)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def storable(value: object) -> bool:
    """Return whether SQLite holds every number in a model dump faithfully (int64, finite)."""
    if isinstance(value, dict):
        return all(storable(v) for v in value.values())
    if isinstance(value, list):
        return all(storable(v) for v in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return -INT64 <= value < INT64 and math.isfinite(value)
    return True


def pydantic_model(kind: str, payload: bytes) -> Contract | None:
    """Return what pydantic alone makes of a payload, or None when it refuses it."""
    try:
        return MODELS[kind].model_validate_json(payload)
    except ValidationError:
        return None


def replaced(doc: Any, path: tuple, value: object) -> Any:
    """Return a copy of doc with the value at path replaced (a `...` value deletes it)."""
    copy = json.loads(json.dumps(doc))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


def test_the_real_event_is_accepted() -> None:
    assert run(topic("st1", "parcel"), BASE.to_json()) == BASE
    assert run(topic("st1", "status"), b"") is None  # retained status cleared: not a reject


@FUZZ
@given(st.binary(max_size=2000), kinds)
def test_random_bytes(payload: bytes, kind: str) -> None:
    result = run(topic("st1", kind), payload)
    assert isinstance(result, Rejected) or (kind == "status" and payload == b"")


@FUZZ
@given(json_values, kinds, st.booleans())
def test_random_json(value: object, kind: str, ascii_only: bool) -> None:
    assert isinstance(run(topic("st1", kind), encode(value, ascii_only)), Rejected)


def accepted_exactly_when_pydantic_accepts(
    doc: object, max_bytes: int = MAX_BYTES, kind: str = "parcel", ascii_only: bool = False
) -> Contract | Rejected | None:
    """Validate doc on st1's topic of `kind` and check the verdict against pydantic alone.

    The gateway adds two rules to the model: numbers must fit SQLite (int64, finite) and the
    payload's site and station must be the topic's.
    """
    payload = encode(doc, ascii_only)
    result, expected = run(topic("st1", kind), payload, max_bytes), pydantic_model(kind, payload)
    ok = len(payload) <= max_bytes and expected is not None and storable(expected.model_dump())
    ok = ok and (expected.site, expected.station) == ("T1", "st1")  # type: ignore[union-attr]
    assert (result == expected) if ok else isinstance(result, Rejected), (doc, result)
    return result


@FUZZ
@given(st.data(), st.sampled_from(MUTABLE))
def test_field_mutations_match_pydantic(data: st.DataObject, where: tuple[str, tuple]) -> None:
    kind, path = where
    doc = json.loads(BASES[kind].to_json())
    original: Any = doc
    for key in path:
        original = original[key]
    same_type = SAME_TYPE.get(type(original), json_values)
    value = data.draw(same_type | json_values | st.just(...), label="new value (... deletes)")
    doc = replaced(doc, path, value)
    if data.draw(st.booleans(), label="add a key"):
        doc[data.draw(any_text | st.sampled_from(list(doc)), label="key")] = 1
    ascii_only = data.draw(st.booleans(), label="ascii only")
    result = accepted_exactly_when_pydantic_accepts(doc, kind=kind, ascii_only=ascii_only)
    event("accepted" if isinstance(result, Contract) else "rejected")  # about 10% accepted


@pytest.mark.parametrize(
    ("kind", "path", "value", "accepted"),
    [
        ("parcel", ("seq",), INT64 - 1, True),
        ("parcel", ("seq",), INT64, False),  # pydantic takes it; no SQLite integer holds it
        ("parcel", ("seq",), -1, False),
        ("parcel", ("seq",), "12", True),  # lax mode: a numeric string is a number
        ("parcel", ("weight", "value"), 1e300, False),
        ("parcel", ("weight", "value"), "-inf", False),
        ("parcel", ("weight", "value"), 0.5, True),
        ("parcel", ("station",), "st2", False),
        ("parcel", ("barcodes",), [], True),
        ("parcel", ("weight",), None, True),
        ("parcel", ("outcome",), "MAYBE", False),
        ("telemetry", ("oldest_pending_age_s",), "inf", False),  # the UI's JSON has no Infinity
        ("telemetry", ("oldest_pending_age_s",), None, True),
        ("telemetry", ("counters",), {"\n": INT64}, False),
        ("telemetry", ("interval_s",), 0, False),
        ("status", ("session",), INT64, False),
        ("status", ("devices", "scan", "kind"), "printer", False),
    ],
)
def test_chosen_mutations(kind: str, path: tuple, value: object, accepted: bool) -> None:
    doc = replaced(json.loads(BASES[kind].to_json()), path, value)
    result = accepted_exactly_when_pydantic_accepts(doc, kind=kind)
    assert isinstance(result, MODELS[kind]) == accepted, result


NESTED = {
    "arrays": lambda d: "[" * d + "]" * d,
    "objects": lambda d: '{"a":' * d + "1" + "}" * d,
}


@pytest.mark.parametrize("depth", [2, 100, 10_000, 100_000])
@pytest.mark.parametrize("shape", sorted(NESTED))
@pytest.mark.parametrize("path", [None, ("flags",), ("weight", "raw"), ("barcodes", 0)])
def test_deep_nesting_is_rejected(path: tuple | None, shape: str, depth: int) -> None:
    nested = NESTED[shape](depth)
    if path is None:
        payload = nested.encode()
    else:  # nested inside an otherwise valid event
        payload = encode(replaced(BASE_DOC, path, "MARK")).replace(b'"MARK"', nested.encode())
    result = run(topic("st1", "parcel"), payload, max_bytes=len(payload))
    assert isinstance(result, Rejected)
    if depth >= 10_000:
        assert result.reason.startswith("bad JSON: recursion limit exceeded")


@FUZZ
@given(st.integers(1, 20_000), st.sampled_from(["[", '{"k":']), json_values)
def test_random_depths_never_escape(depth: int, opener: str, leaf: object) -> None:
    closer = "]" if opener == "[" else "}"
    payload = (opener * depth + json.dumps(leaf) + closer * depth).encode()
    assert isinstance(run(topic("st1", "parcel"), payload, max_bytes=len(payload)), Rejected)


@pytest.mark.parametrize(
    ("path", "limited"),
    [
        (("agent_version",), True),
        (("dock",), True),
        (("event_id",), True),
        (("barcodes", 0, "text"), True),
        (("weight", "raw"), True),
        (("flags", 0), True),
        (("images", 0), True),
    ],
)
def test_huge_strings_are_rejected_by_size_or_by_field(path: tuple, limited: bool) -> None:
    doc = replaced(BASE_DOC, ("flags",), ["f"])
    doc = replaced(doc, ("images",), ["i.jpg"])
    doc = replaced(doc, path, "x" * 3_000_000)
    payload = encode(doc)
    too_big = run(topic("st1", "parcel"), payload)
    assert isinstance(too_big, Rejected)
    assert too_big.reason == f"oversized payload: {len(payload)} bytes > {MAX_BYTES}"
    allowed = accepted_exactly_when_pydantic_accepts(doc, max_bytes=len(payload))
    if limited:
        assert isinstance(allowed, Rejected) and allowed.reason.startswith("invalid field ")
    else:
        assert isinstance(allowed, ParcelEvent)


@FUZZ
@given(
    st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]),
    st.sampled_from(["agent_version", "dock", "flags"]),
)
def test_invalid_utf8_names_its_byte(bad: bytes, field: str) -> None:
    marker = "MARK"
    doc = replaced(BASE_DOC, (field,), [marker] if field == "flags" else marker)
    payload = encode(doc).replace(marker.encode(), bad)
    result = run(topic("st1", "parcel"), payload)
    assert isinstance(result, Rejected)
    assert result.reason == f"invalid UTF-8 at byte {payload.index(bad)}"


@FUZZ
@given(
    st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
)
def test_topic_and_payload_must_name_the_same_site_and_station(site: str, station: str) -> None:
    result = run(TOPICS.parcel(site, station), BASE.to_json())
    if (site, station) == ("T1", "st1"):
        assert result == BASE
    else:
        assert isinstance(result, Rejected) and result.reason.startswith("topic names ")
        assert result.station == station


segments = st.sampled_from(["dockscan", "v1", "T1", "st1", "gateway", "+", "#", "", "\x00"])
segments |= st.sampled_from(["parcel", "status", "telemetry", "ack", "cmd", "reply"])
segments |= st.text(max_size=70)


@FUZZ
@given(st.text(max_size=300) | st.lists(segments, max_size=7).map("/".join))
@example("dockscan/v1/T1/st1/parcel")
@example("dockscan/v1/T1/st1/ack")
@example("dockscan/v1/T1/gateway/gw/status")
@example("dockscan/v1/T1/st1/cmd/resend")
@example("dockscan/v1/T1/st1/parcel/extra")
def test_random_topics(topic_: str) -> None:
    result = run(topic_, BASE.to_json())
    assert isinstance(result, Rejected) or topic_ == topic("st1", "parcel")


@pytest.mark.parametrize(
    ("key", "shown"), [("\n", "'\\n'"), ("a b", "'a b'"), ("\u2028", "'\\u2028'"), ("ok", "ok")]
)
def test_a_reason_names_an_odd_key_on_one_line(key: str, shown: str) -> None:
    result = run(topic("st1", "parcel"), encode({**BASE_DOC, key: 1}))
    assert isinstance(result, Rejected)
    assert result.reason == f"invalid field {shown}: Extra inputs are not permitted"
