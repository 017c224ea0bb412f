"""Pairing rules over a real SQLite outbox, driven with explicit monotonic times."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockscan.codes import s10_with_check
from dockscan.config import StationConfig
from dockscan.events import ParcelEvent
from edge.devices.base import CapturedWeight, ScanRead
from edge.outbox import Outbox
from edge.station import Station

A, B = s10_with_check("LX", 1, "DE"), s10_with_check("LX", 2, "DE")


def make(tmp_path: Path, **cfg: object) -> tuple[Station, list[ParcelEvent]]:
    """A station with a 3 s window writing to a fresh outbox; returns it and its captures."""
    station_cfg = StationConfig(id="st1", dock="d1", **cfg)
    outbox = Outbox(tmp_path / "outbox.db", max_events=station_cfg.outbox_max_events)
    evidence = lambda t: [f"var/evidence/{t:.1f}.jpg"]  # noqa: E731
    station = Station("site1", station_cfg, outbox, "t/parcel", evidence=evidence, clock=lambda: 0)
    captured: list[ParcelEvent] = []
    station.on_captured.append(captured.append)
    return station, captured


def scan(text: str, t: float, device: str = "scanner1") -> ScanRead:
    return ScanRead(device=device, source_kind="scanner", text=text, symbology="code128", t=t)


def weight(kg: float, t: float) -> CapturedWeight:
    return CapturedWeight("scale1", kg, f"{kg:.3f}", "kg", b"S S    %.3f kg\r\n" % kg, t=t)


def test_scan_then_weight_is_ok_at_once(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_scan(scan(A, 10.0))
    assert captured == []
    station.on_weight(weight(1.25, 11.0))
    [event] = captured
    assert (event.outcome, event.barcodes[0].text, event.weight.value) == ("OK", A, 1.25)
    assert event.weight.raw == "S S    1.250 kg\\x0d\\x0a"
    assert event.seq == 1 and event.barcodes[0].kind == "upu_s10"


def test_weight_then_scan_is_ok(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_weight(weight(2.0, 10.0))
    station.on_scan(scan(A, 12.9))
    assert [e.outcome for e in captured] == ["OK"]


def test_scan_without_weight_is_no_weight_after_window(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_scan(scan(A, 10.0))
    station.tick(12.9)
    assert captured == []
    station.tick(13.0)
    [event] = captured
    assert event.outcome == "NO_WEIGHT" and event.weight is None


def test_weight_without_scan_is_no_read_with_evidence(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_weight(weight(3.0, 10.0))
    station.tick(13.5)
    [event] = captured
    assert event.outcome == "NO_READ" and event.images == ["var/evidence/10.0.jpg"]


def test_late_scan_after_window_is_two_events(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_weight(weight(3.0, 10.0))
    station.on_scan(scan(A, 13.5))  # expiry of the weight window happens first
    station.tick(17.0)
    assert [e.outcome for e in captured] == ["NO_READ", "NO_WEIGHT"]


def test_two_codes_in_window_are_multi_read(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_scan(scan(A, 10.0))
    station.on_scan(scan(B, 10.5, device="camera1"))
    station.on_weight(weight(1.0, 11.0))
    [event] = captured
    assert event.outcome == "MULTI_READ" and {b.text for b in event.barcodes} == {A, B}


def test_same_code_from_scanner_and_camera_is_one_parcel(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_scan(scan(A, 10.0))
    station.on_scan(scan("]C0" + A, 10.1, device="camera1"))
    station.on_weight(weight(1.0, 11.0))
    assert [e.outcome for e in captured] == ["OK"]
    assert len(captured[0].barcodes) == 2


def test_bad_check_digit_is_invalid_code(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    bad = A[:10] + str((int(A[10]) + 1) % 10) + A[11:]
    station.on_scan(scan(bad, 10.0))
    station.on_weight(weight(1.0, 10.5))
    assert captured == []  # waits for a good read within the window
    station.tick(13.0)
    [event] = captured
    assert event.outcome == "INVALID_CODE" and event.barcodes[0].check_ok is False
    assert event.weight is not None


def test_good_read_after_misread_is_ok_and_flagged(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_scan(scan(A[:10] + "0" + A[11:] if A[10] != "0" else A[:10] + "1" + A[11:], 10.0))
    station.on_weight(weight(1.0, 10.5))
    station.on_scan(scan(A, 11.0))
    [event] = captured
    assert event.outcome == "OK" and "INVALID_READ" in event.flags


def test_repeat_is_flagged(tmp_path: Path) -> None:
    station, captured = make(tmp_path, repeat_window_s=10)
    station.on_scan(scan(A, 10.0))
    station.on_weight(weight(1.0, 10.5))
    station.on_scan(scan(A, 12.0))  # double trigger, no new weight
    station.tick(20.0)
    station.on_scan(scan(A, 30.0))  # beyond the repeat window: a plain scan again
    station.tick(40.0)
    assert [(e.outcome, e.flags) for e in captured] == [
        ("OK", []),
        ("REPEAT", ["REPEAT"]),
        ("NO_WEIGHT", []),
    ]


def test_repeat_with_new_weight_is_ok_with_flag(tmp_path: Path) -> None:
    station, captured = make(tmp_path, repeat_window_s=10)
    station.on_scan(scan(A, 10.0))
    station.on_weight(weight(1.0, 10.5))
    station.on_scan(scan(A, 14.0))
    station.on_weight(weight(1.0, 14.5))
    assert [(e.outcome, e.flags) for e in captured] == [("OK", []), ("OK", ["REPEAT"])]


def test_repeat_suppressed_is_counted(tmp_path: Path) -> None:
    station, captured = make(tmp_path, repeat_policy="suppress")
    station.on_scan(scan(A, 10.0))
    station.on_weight(weight(1.0, 10.5))
    station.on_scan(scan(A, 11.0))
    station.tick(30.0)
    assert [e.outcome for e in captured] == ["OK"]
    assert station.counter_snapshot()["repeats_suppressed"] == 1


def test_second_weight_closes_first_parcel(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_weight(weight(1.0, 10.0))
    station.on_weight(weight(2.0, 11.0))
    station.on_scan(scan(A, 11.5))
    assert [(e.outcome, e.weight.value) for e in captured] == [("NO_READ", 1.0), ("OK", 2.0)]


def test_every_event_is_in_the_outbox_before_it_is_reported(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    seen_depth: list[int] = []
    station.on_captured.append(lambda e: seen_depth.append(station.outbox.depth))
    for i in range(5):
        station.on_scan(scan(s10_with_check("LX", 100 + i, "DE"), 10.0 + i))
        station.on_weight(weight(1.0, 10.2 + i))
    assert seen_depth == [1, 2, 3, 4, 5]
    rows = station.outbox.rows_after(0, 10)
    assert [json.loads(r.payload)["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r.event_id for r in rows] == [e.event_id for e in captured]


def test_full_outbox_refuses_and_reports(tmp_path: Path) -> None:
    station, captured = make(tmp_path, outbox_max_events=10)
    refused: list[str] = []
    station.on_refused.append(lambda d, reason: refused.append(d.outcome.value))
    for i in range(12):
        station.on_scan(scan(s10_with_check("LX", 200 + i, "DE"), 10.0 + i))
        station.on_weight(weight(1.0, 10.2 + i))
    assert len(captured) == 10 and refused == ["OK", "OK"]
    assert station.counter_snapshot()["refused"] == 2


def test_flush_concludes_open_window(tmp_path: Path) -> None:
    station, captured = make(tmp_path)
    station.on_scan(scan(A, 10.0))
    station.flush()
    assert [e.outcome for e in captured] == ["NO_WEIGHT"]


def test_device_states_are_tracked(tmp_path: Path) -> None:
    station, _ = make(tmp_path)
    seen: list[dict] = []
    station.on_devices.append(seen.append)
    station.on_device_state("scale1", "scale", "disconnected", "port vanished")
    station.on_device_state("scale1", "scale", "disconnected", "port vanished")
    station.on_device_state("scale1", "scale", "bogus", "")
    assert len(seen) == 2
    assert station.devices["scale1"].state == "fault"


@pytest.mark.parametrize("text", ["<img src=x onerror=alert(1)>", "\x00\x1d\x7f", "x" * 5000])
def test_hostile_code_text_is_published_not_crashing(tmp_path: Path, text: str) -> None:
    station, captured = make(tmp_path)
    station.on_scan(scan(text, 10.0))
    station.on_weight(weight(1.0, 10.5))
    station.tick(20.0)
    [event] = captured  # \x1d makes the middle one a malformed GS1 string: INVALID_CODE
    assert event.outcome in ("OK", "INVALID_CODE") and event.barcodes[0].text == text[:4096]


CODES = [s10_with_check("LX", n, "DE") for n in range(4)] + ["RR123456784CN", "free text"]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=4.0),
            st.one_of(st.sampled_from(CODES), st.floats(min_value=0.1, max_value=30.0)),
        ),
        max_size=40,
    ),
    policy=st.sampled_from(["flag", "suppress"]),
)
def test_nothing_collected_is_ever_dropped(
    tmp_path_factory: pytest.TempPathFactory, steps: list, policy: str
) -> None:
    """Every weight and every read that is not a suppressed repeat ends in exactly one event."""
    station, captured = make(tmp_path_factory.mktemp("prop"), repeat_policy=policy)
    t, weights, scanned = 0.0, [], set()
    for gap, item in steps:
        t += gap
        if isinstance(item, str):
            station.on_scan(scan(item, t))
            scanned.add(item)
        else:
            station.on_weight(weight(round(item, 3), t))
            weights.append(round(item, 3))
    station.flush()
    counts = station.counter_snapshot()
    assert sorted(e.weight.value for e in captured if e.weight) == sorted(weights)
    reads = sum(len(e.barcodes) for e in captured)
    assert reads <= counts.get("scans", 0) - counts.get("repeats_suppressed", 0)
    if policy == "flag":  # nothing suppressed: every code read is in some event
        assert scanned == {b.text for e in captured for b in e.barcodes}
    assert [e.seq for e in captured] == list(range(1, len(captured) + 1))
    assert station.outbox.depth == len(captured)
    for e in captured:
        assert e.outcome != "OK" or (e.weight is not None and e.barcodes)
