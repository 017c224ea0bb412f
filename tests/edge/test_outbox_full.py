"""A size-capped outbox on real SQLite files: full disk refuses or drops, loses nothing accepted."""

import json
from pathlib import Path

import pytest

from dockscan.codes import s10_with_check
from dockscan.config import StationConfig
from dockscan.errors import StoreError
from edge.devices.base import CapturedWeight, ScanRead
from edge.outbox import Outbox, OutboxDiskFull
from edge.station import Station

CAP_MB = 0.05  # 12 pages of 4 KiB: a few dozen events


def build(seq: int, event_id: str) -> bytes:
    """A payload about the size of a real parcel event."""
    return json.dumps({"seq": seq, "event_id": event_id, "pad": "x" * 400}).encode()


def fill(box: Outbox) -> list[str]:
    """Add events until the outbox refuses one; return the accepted event ids in order."""
    accepted: list[str] = []
    for _ in range(10_000):
        try:
            accepted.append(box.add("t", build).event_id)
        except OutboxDiskFull:
            return accepted
    raise AssertionError("a 0.05 MB outbox never filled")


def test_cap_fills_refuses_and_keeps_every_committed_row(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_mb=CAP_MB)
    accepted = fill(box)
    assert len(accepted) >= 10
    assert box.full_reason == "disk full: outbox at 0.05 MB cap; new events are refused"
    with pytest.raises(OutboxDiskFull, match=r"0\.05 MB cap"):
        box.add("t", build)
    rows = box.rows_after(0, 10_000)
    assert [r.event_id for r in rows] == accepted
    assert [r.seq for r in rows] == list(range(1, len(accepted) + 1))
    assert all(json.loads(r.payload)["event_id"] == r.event_id for r in rows)
    stats = box.stats()
    assert (stats.depth, stats.refused, stats.disk_full, stats.dropped) == (len(accepted), 2, 2, 0)
    assert box.loss_counters() == {
        "outbox_dropped": 0,
        "outbox_refused": 2,
        "outbox_disk_full": 2,
    }
    box.mark_sent([r.seq for r in rows])  # advisory: a full file must not make this raise
    box.close()


def test_fault_clears_after_acks_free_space_and_seq_continues(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_mb=CAP_MB)
    accepted = fill(box)
    assert box.delete(accepted[:-1]) == len(accepted) - 1  # the gateway acked all but one
    row = box.add("t", build)
    assert box.full_reason == "" and row.seq == len(accepted) + 1
    assert [r.event_id for r in box.rows_after(0, 100)] == [accepted[-1], row.event_id]
    box.close()


def test_raised_cap_after_restart_accepts_again_and_counters_persist(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_mb=CAP_MB)
    accepted = fill(box)
    box.close()
    box = Outbox(tmp_path / "o.db", max_mb=CAP_MB * 4)
    assert box.add("t", build).seq == len(accepted) + 1
    assert (box.depth, box.stats().refused, box.full_reason) == (len(accepted) + 1, 1, "")
    box.close()


def test_file_already_above_a_lowered_cap_is_full_not_broken(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_mb=CAP_MB * 4)
    accepted = fill(box)
    box.close()
    box = Outbox(tmp_path / "o.db", max_mb=CAP_MB)
    with pytest.raises(OutboxDiskFull):
        box.add("t", build)
    assert [r.event_id for r in box.rows_after(0, 10_000)] == accepted
    box.close()


def test_drop_oldest_frees_room_by_dropping_and_counts_it(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", overflow="drop_oldest", max_mb=CAP_MB)
    added = [box.add("t", build) for _ in range(300)]
    stats = box.stats()
    rows = box.rows_after(0, 10_000)
    assert stats.dropped > 0 and stats.refused == 0 and stats.disk_full > 0
    assert stats.dropped + stats.depth == 300
    assert rows == added[stats.dropped :], "only the oldest rows are dropped, the rest intact"
    assert box.full_reason == "disk full: outbox at 0.05 MB cap; dropping the oldest events"
    box.delete([r.event_id for r in rows])
    box.add("t", build)
    assert box.full_reason == ""
    box.close()


def test_negative_cap_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size cap"):
        Outbox(tmp_path / "o.db", max_mb=-1)


def test_cap_below_the_schema_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open outbox"):
        Outbox(tmp_path / "o.db", max_mb=0.000001)


def test_station_reports_outbox_fault_not_captured_then_ok(tmp_path: Path) -> None:
    cfg = StationConfig(id="st1", dock="d1", outbox_max_mb=CAP_MB)
    box = Outbox(tmp_path / "o.db", max_mb=cfg.outbox_max_mb)
    station = Station("site1", cfg, box, "t/parcel", clock=lambda: 0)
    captured, refused, states = [], [], []
    station.on_captured.append(captured.append)
    station.on_refused.append(lambda d, reason: refused.append(reason))
    station.on_devices.append(lambda devices: states.append(devices["outbox"].state.value))
    i = 0
    while not refused:
        i += 1
        code = s10_with_check("LX", i, "DE")
        station.on_scan(ScanRead("scanner1", "scanner", code, "code128", t=10.0 + i))
        station.on_weight(CapturedWeight("scale1", 1.0, "1.000", "kg", b"S S 1.0 kg", t=10.0 + i))
        assert i < 1000, "the outbox never filled"
    assert refused == ["disk full: outbox at 0.05 MB cap; new events are refused"]
    assert station.devices["outbox"].kind == "outbox" and states == ["fault"]
    assert station.counter_snapshot()["refused"] == 1
    assert len(captured) == i - 1 == box.depth
    box.delete([e.event_id for e in captured])
    station.on_scan(ScanRead("scanner1", "scanner", s10_with_check("LX", 999, "DE"), "code128"))
    station.on_weight(CapturedWeight("scale1", 2.0, "2.000", "kg", b"S S 2.0 kg"))
    assert states == ["fault", "ok"] and station.devices["outbox"].reason == ""
    assert captured[-1].seq == i
    box.close()
