"""The outbox on real SQLite files: durability across SIGKILL, seq never reused, bounds."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dockscan.errors import StoreError
from edge.outbox import Outbox, OutboxFull
from tests.support.broker import wait_for


def build(seq: int, event_id: str) -> bytes:
    return json.dumps({"seq": seq, "event_id": event_id}).encode()


def test_add_assigns_seq_and_uuid7_and_keeps_bytes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    rows = [box.add("t/parcel", build) for _ in range(3)]
    assert [r.seq for r in rows] == [1, 2, 3]
    assert all(r.event_id[14] == "7" for r in rows)  # UUID version 7
    assert box.rows_after(0, 10) == rows
    assert json.loads(rows[1].payload) == {"seq": 2, "event_id": rows[1].event_id}
    box.close()


def test_wal_and_full_sync(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()


def test_delete_on_ack_and_seq_never_reused(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    rows = [box.add("t", build) for _ in range(5)]
    assert box.delete([r.event_id for r in rows] + ["not-there"]) == 5
    assert box.depth == 0
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert box.add("t", build).seq == 6
    box.close()


def test_mark_sent_and_stats(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    rows = [box.add("t", build) for _ in range(4)]
    box.mark_sent([rows[0].seq, rows[1].seq])
    stats = box.stats()
    assert (stats.depth, stats.pending, stats.sent, stats.next_seq) == (4, 2, 2, 5)
    assert stats.oldest_age_s is not None and stats.oldest_age_s >= 0
    box.close()


def test_block_policy_refuses_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_events=10, overflow="block")
    for _ in range(10):
        box.add("t", build)
    with pytest.raises(OutboxFull, match="refused"):
        box.add("t", build)
    assert (box.depth, box.stats().refused) == (10, 1)
    box.delete([box.rows_after(0, 1)[0].event_id])
    assert box.add("t", build).seq == 11  # the refused event consumed no seq
    box.close()


def test_drop_oldest_policy_counts_drops(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_events=10, overflow="drop_oldest")
    for _ in range(15):
        box.add("t", build)
    stats = box.stats()
    assert (stats.depth, stats.dropped) == (10, 5)
    assert [r.seq for r in box.rows_after(0, 100)] == list(range(6, 16))
    box.close()


def test_failed_build_rolls_back(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")

    def broken(seq: int, event_id: str) -> bytes:
        raise ValueError("bad event")

    with pytest.raises(ValueError):
        box.add("t", broken)
    assert box.depth == 0 and box.add("t", build).seq == 1
    box.close()


def test_failed_build_at_the_bound_drops_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_events=10, overflow="drop_oldest")
    for _ in range(10):
        box.add("t", build)

    def broken(seq: int, event_id: str) -> bytes:
        raise ValueError("bad event")

    with pytest.raises(ValueError):
        box.add("t", broken)
    assert box.depth == 10 == box.stats().depth and box.stats().dropped == 0
    box.close()


def test_session_counter_persists(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert [box.next_session(), box.next_session()] == [1, 2]
    box.close()
    assert Outbox(tmp_path / "o.db").next_session() == 3


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open outbox"):
        Outbox(tmp_path / "file" / "o.db")


WRITER = textwrap.dedent(
    """
    import sys
    from edge.outbox import Outbox
    box = Outbox(sys.argv[1])
    while True:
        row = box.add("t", lambda seq, eid: b"%d" % seq)
        print(row.seq, row.event_id, flush=True)  # reported only after the commit
    """
)


def test_sigkill_while_writing_loses_no_committed_event(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    log = tmp_path / "committed.txt"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=out)
    wait_for(lambda: log.read_text().count("\n") >= 300, 30, what="300 committed events")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)
    reported = [line.split() for line in log.read_text().splitlines() if line.count(" ") == 1]
    box = Outbox(path)
    stored = {r.event_id: r.seq for r in box.rows_after(0, 1_000_000)}
    assert len(reported) >= 300
    for seq, event_id in reported:
        assert stored[event_id] == int(seq)
    assert sorted(stored.values()) == list(range(1, len(stored) + 1))
    next_row = box.add("t", build)
    assert next_row.seq == len(stored) + 1
    box.close()
