"""The verdict queue on both backends: queued with the parcel, judged once, ahead of the lock."""

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from dockscan.codes import CodeClassifier
from dockscan.hub_events import VerdictBatch
from gateway.clock import epoch_ms, now_ms
from gateway.manifests.importer import import_manifest
from gateway.manifests.model import make_header
from gateway.reconcile import queue
from gateway.reconcile.matcher import QueueRace, Reconciler, verdict_batch_json
from gateway.reconcile.worker import judge_pending
from gateway.retention import purge_by_age
from gateway.store import Batch, Store, transaction
from tests.gateway.test_reconcile import HEADER, T0, event, manifest, s10, site

VERDICT_ROW = "SELECT event_id, match, weight, manifest_id, delta_kg, first_event_id FROM verdicts"


@pytest.fixture
def queued(store_target: str) -> Any:
    """A store that queues every new parcel for the reconciler process, as the ingest's does."""
    cfg = site(store_target)
    with Store(store_target, reconciler=Reconciler(cfg, CodeClassifier()), judge=False) as s:
        yield s


def drain(store: Store, limit: int = 1000) -> dict[str, list[dict]]:
    """Judge one transaction's worth of the queue, as the reconciler process does."""
    assert store.reconciler is not None
    if store.conn.dialect == "sqlite":
        return store.reconciler.drain_ahead(store.conn, limit)
    with transaction(store.conn):
        return store.reconciler.drain(store.conn, now_ms(), limit)


def count(store: Store, table: str) -> int:
    """Return the rows of a table."""
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_parcel_is_queued_with_its_commit_and_judged_once(queued: Store, tmp_path: Path) -> None:
    manifest(queued.conn, tmp_path, {s10(1): 2.0})
    listed, unexpected = event(s10(1), 2.1), event(s10(2), 1.0, station="st2", at=1)
    plain = event("JJD000000000001", 1.0, at=2)  # no parcel id: no verdict, not queued
    written = queued.write(
        Batch(parcels=[(e, e.to_json(), 0) for e in (listed, unexpected, plain)])
    )
    assert written.inserted == 3 and written.verdicts == {}
    assert (queue.depth(queued.conn), count(queued, "verdicts")) == (2, 0)
    assert count(queued, "verdict_queue") == 1  # one row for the batch
    judged = drain(queued)
    assert sorted(judged) == ["st1", "st2"]
    for station, verdicts in judged.items():  # what the reconciler publishes is the contract
        VerdictBatch.model_validate_json(verdict_batch_json("hub", station, "gw-1", verdicts))
    assert [v["match"] for v in judged["st1"]] == ["MATCHED"]
    assert [v["match"] for v in judged["st2"]] == ["UNEXPECTED"]
    assert drain(queued) == {}
    assert (queue.depth(queued.conn), count(queued, "verdicts")) == (0, 2)
    # Re-sent after judging: acknowledged again with the verdict stored for it.
    again = queued.write(Batch(parcels=[(listed, listed.to_json(), 0)]))
    assert [v["event_id"] for v in again.verdicts[("hub", "st1")]] == [listed.event_id]
    assert count(queued, "verdict_queue") == 0


def test_a_parcel_resent_before_its_verdict_is_acked_without_one(queued: Store) -> None:
    e = event(s10(1), 1.0)
    queued.write(Batch(parcels=[(e, e.to_json(), 0)]))
    assert queued.write(Batch(parcels=[(e, e.to_json(), 0)])).verdicts == {}
    assert queue.depth(queued.conn) == 1  # queued once: the reconciler publishes it


def test_queue_and_inline_judging_decide_alike(store_target: str, tmp_path: Path) -> None:
    """Late earlier sightings, duplicates in a batch, holds: the same verdicts either way."""
    events = [event(s10(1), 1.0, at=10), event(s10(1), 1.0, station="st2", at=5),
              event(s10(2), 4.0, at=6), event(s10(3), None, at=7)]  # fmt: skip
    earliest = event(s10(1), 1.1, at=1)
    rows = []
    for judge in (True, False):
        target = store_target if judge else str(tmp_path / "queued.db")
        cfg = site(target)
        with Store(target, reconciler=Reconciler(cfg, CodeClassifier()), judge=judge) as store:
            manifest(store.conn, tmp_path, {s10(1): 1.0, s10(2): 2.0})
            for batch in (events, [earliest]):
                store.write(Batch(parcels=[(e, e.to_json(), 0) for e in batch]))
                if not judge:
                    drain(store)
            rows.append(sorted(store.conn.execute(VERDICT_ROW).fetchall()))
    assert rows[0] == rows[1]
    assert {r[0]: r[1] for r in rows[1]}[earliest.event_id] == "MATCHED"
    assert sum(r[1] == "DUPLICATE" for r in rows[1]) == 2


def test_judging_ahead_decides_again_when_a_manifest_came_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: an import committed between the snapshot and the lock is not missed."""
    db = str(tmp_path / "gw.db")
    cfg = site(db)
    reconciler = Reconciler(cfg, CodeClassifier())
    with Store(db, reconciler=reconciler, judge=False) as store:
        manifest(store.conn, tmp_path, {s10(9): 1.0})
        e = event(s10(1), 2.0)
        store.write(Batch(parcels=[(e, e.to_json(), 0)]))
        plan, calls = reconciler.plan, []

        def plan_then_import(*args: Any) -> Any:
            judged = plan(*args)
            if not calls:  # another process imports the parcel's manifest now
                other = Store(db)
                path = tmp_path / "late.csv"
                path.write_text(f"{HEADER}\n{s10(1)},2.0\n")
                unit = make_header(flight="LH1", flight_date="2026-12-01")
                import_manifest(other.conn, path, unit, cfg.manifests, CodeClassifier())
                other.close()
            calls.append(judged)
            return judged

        monkeypatch.setattr(reconciler, "plan", plan_then_import)
        judged = reconciler.drain_ahead(store.conn)
        assert len(calls) == 2 and calls[0].verdicts[0]["match"] == "UNEXPECTED"
        assert [v["match"] for v in judged["st1"]] == ["MATCHED"]
        row = store.conn.execute("SELECT match, manifest_id FROM verdicts").fetchall()
        assert row == [("MATCHED", "flight:LH1/2026-12-01")]


def test_rows_gone_while_judged_roll_the_verdicts_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "gw.db")
    reconciler = Reconciler(site(db), CodeClassifier())
    with Store(db, reconciler=reconciler, judge=False) as store:
        e = event(s10(1), 2.0)
        store.write(Batch(parcels=[(e, e.to_json(), 0)]))
        plan = reconciler.plan

        def plan_then_purge(*args: Any) -> Any:
            judged = plan(*args)
            other = sqlite3.connect(db, isolation_level=None)
            other.execute("DELETE FROM verdict_queue")  # as another reconciler would
            other.close()
            return judged

        monkeypatch.setattr(reconciler, "plan", plan_then_purge)
        with pytest.raises(QueueRace):
            reconciler.drain_ahead(store.conn)
        assert count(store, "verdicts") == 0


def test_a_parcel_retention_took_while_queued_gets_no_verdict(queued: Store) -> None:
    old, recent = event(s10(1), 1.0), event(s10(2), 1.0, at=100)
    queued.write(Batch(parcels=[(e, e.to_json(), 0) for e in (old, recent)]))
    assert purge_by_age(queued.conn, epoch_ms(T0) + 50_000).parcels == 1
    assert queue.depth(queued.conn) == 2  # the batch's row keeps both sightings
    judged = drain(queued)
    assert [v["event_id"] for v in judged["st1"]] == [recent.event_id]
    stored = queued.conn.execute("SELECT event_id FROM verdicts").fetchall()
    assert stored == [(recent.event_id,)] and queue.depth(queued.conn) == 0


def test_a_close_judges_the_queue_first(queued: Store, tmp_path: Path) -> None:
    """The parcels stored before a close-out count in its report, judged or not yet."""
    from gateway.manifests.closeout import close, report

    manifest(queued.conn, tmp_path, {s10(1): 1.0, s10(2): 1.0})
    e = event(s10(1), 1.0)
    queued.write(Batch(parcels=[(e, e.to_json(), 0)]))
    cfg = site("x")
    assert judge_pending(queued.conn, cfg) == 1
    done = close(queued.conn, "mawb:176-12345675", "alice", now_ms(), cfg)
    assert (done.seen, done.expected) == (1, 2)
    assert (report(queued.conn, "mawb:176-12345675").seen, queue.depth(queued.conn)) == (1, 0)
    kind, station = queued.conn.execute(
        "SELECT kind, station FROM outbound ORDER BY id"
    ).fetchall()[0]
    assert (kind, station) == ("verdict", "st1")  # the lease holder publishes it


def test_the_queue_reports_its_depth(queued: Store) -> None:
    events = [event(s10(i), 1.0, at=i) for i in range(3)]
    queued.write(Batch(parcels=[(e, e.to_json(), 0) for e in events]))
    assert queue.pending(queued.conn) and queue.depth(queued.conn) == 3
    drain(queued)
    assert not queue.pending(queued.conn) and queue.depth(queued.conn) == 0


def test_two_reconcilers_on_one_store_judge_each_parcel_once(store_target: str) -> None:
    """Two gateways' reconcilers while the ingest writes: every verdict stored and sent once."""
    cfg = site(store_target)
    events = [event(s10(i % 1500), 1.0, station=f"st{1 + i % 2}", at=i) for i in range(3000)]
    published: list[str] = []
    lock, written = threading.Lock(), threading.Event()

    def ingest() -> None:
        with Store(store_target, reconciler=Reconciler(cfg, CodeClassifier()), judge=False) as s:
            for i in range(0, len(events), 100):
                s.write(Batch(parcels=[(e, e.to_json(), 0) for e in events[i : i + 100]]))
        written.set()

    def reconcile() -> None:
        with Store(store_target, reconciler=Reconciler(cfg, CodeClassifier())) as mine:
            while True:
                done = written.is_set()
                try:
                    judged = drain(mine, limit=70)
                except QueueRace:
                    continue
                with lock:
                    published.extend(v["event_id"] for vs in judged.values() for v in vs)
                if not judged and done:
                    return

    with Store(store_target):
        pass  # one migration before the threads open the store
    threads = [threading.Thread(target=f) for f in (ingest, reconcile, reconcile)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    with Store(store_target) as store:
        assert count(store, "verdicts") == 3000 and count(store, "verdict_queue") == 0
        duplicates = store.conn.execute(
            "SELECT count(*) FROM verdicts WHERE match = 'DUPLICATE'"
        ).fetchone()[0]
    assert sorted(published) == sorted(e.event_id for e in events)
    assert duplicates == 1500  # each id's later sighting, whichever reconciler judged which


def test_a_queue_id_is_never_used_twice(queued: Store) -> None:
    """A reconciler deletes the rows it read by id: a new row must not take a judged one's."""
    first = event(s10(1), 1.0)
    queued.write(Batch(parcels=[(first, first.to_json(), 0)]))
    drain(queued)
    second = event(s10(2), 1.0, at=1)
    queued.write(Batch(parcels=[(second, second.to_json(), 0)]))
    ids = queued.conn.execute("SELECT id FROM verdict_queue").fetchall()
    assert ids[0][0] > 1
