"""The store on both backends: schema version, batch writes, dedupe, codes, counters."""

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from dockscan.errors import StoreError
from dockscan.events import Barcode
from gateway.clock import now_ms
from gateway.deadletters import dead_letter
from gateway.schema import DDL, SCHEMA_VERSION, schema_version
from gateway.store import Batch, Store, open_db, primary_barcode
from tests.gateway.ingest_support import parcel

INDEX_SQL = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index'",
    "postgresql": "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()",
}


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    """A fresh store on each backend, closed after the test."""
    with Store(store_target) as s:
        yield s


def code(text: str, check_ok: bool | None) -> Barcode:
    """Return a barcode with a given check result."""
    return Barcode(text=text, symbology="code128", source="cam", kind="x", check_ok=check_ok)


def test_new_store_is_at_current_version_with_its_indexes(store: Store) -> None:
    conn = store.conn
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
        (str(SCHEMA_VERSION),)
    ]
    indexes = {r[0] for r in conn.execute(INDEX_SQL[conn.dialect])}
    assert {
        "parcels_station_ts", "parcels_outcome_ts", "parcels_station_seq", "parcel_codes_text",
        "parcel_codes_event", "station_events_kind", "dead_letters_digest", "dead_letters_last",
    } <= indexes  # fmt: skip


def test_new_sqlite_file_is_wal(tmp_path: Path) -> None:
    """SQLite only: journal mode and user_version are SQLite file properties."""
    with Store(tmp_path / "gw.db") as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert store.conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert schema_version(store.conn) == SCHEMA_VERSION


def _open_each_at_once(paths: list[str], start: Any, errors: Any) -> None:
    """Open each new store file in turn, each time together with the sibling processes."""
    for path in paths:
        start.wait()
        try:
            open_db(path).close()
        except StoreError as exc:
            errors.put(str(exc))


def test_processes_opening_one_new_file_together_all_succeed(tmp_path: Path) -> None:
    """Gateways started at once on a new file: the WAL switch races (CI saw it lock)."""
    ctx = multiprocessing.get_context("fork")
    errors, start = ctx.Queue(), ctx.Barrier(3)
    paths = [str(tmp_path / f"r{i}.db") for i in range(100)]
    procs = [ctx.Process(target=_open_each_at_once, args=(paths, start, errors)) for _ in "abc"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert errors.empty(), errors.get()
    assert {schema_version(sqlite3.connect(p)) for p in paths} == {SCHEMA_VERSION}


def test_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    """SQLite only: version-1 stores exist only as SQLite files (PostgreSQL starts at 5)."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(DDL)  # as the first release created it: no user_version
        conn.execute(
            "INSERT INTO stations (id, site, state, session) VALUES ('st1', 'T1', 'online', 3)"
        )
    conn.close()
    db = open_db(path)
    assert schema_version(db) == SCHEMA_VERSION
    assert "seq_checked" in sqlite_utils.Database(db)["stations"].columns_dict
    assert db.execute("SELECT state, session FROM stations").fetchall() == [("online", 3)]
    gap_index = [r[2] for r in db.execute("PRAGMA index_info(parcels_station_seq)")]
    assert gap_index == ["station", "seq", "received_ms", "ts_ms"]  # version 4 covers the check
    db.close()
    assert schema_version(open_db(path)) == SCHEMA_VERSION  # reopening is a no-op


def test_newer_schema_is_refused(store_target: str) -> None:
    open_db(store_target).close()
    with Store(store_target) as store:  # what a newer gateway would leave behind
        store.conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
        if store.conn.dialect == "sqlite":  # SQLite reads the version from user_version
            store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=f"version {SCHEMA_VERSION + 1}, newer than this"):
        open_db(store_target)


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    """SQLite only: a file path under a regular file (test_store_postgres has the PG twin)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        open_db(blocker / "gw.db")


def test_batch_dedupes_within_and_across_batches(store: Store) -> None:
    a, b, c = (parcel("st1", i) for i in range(3))
    rx = now_ms()
    first = store.write(Batch(parcels=[(a, a.to_json(), rx), (b, b.to_json(), rx),
                                       (a, a.to_json(), rx)]))  # fmt: skip
    assert (first.inserted, first.duplicates) == (2, 1)
    assert first.ids == {("T1", "st1"): sorted([a.event_id, b.event_id])}
    second = store.write(Batch(parcels=[(b, b.to_json(), rx), (c, c.to_json(), rx)]))
    assert (second.inserted, second.duplicates) == (1, 1)
    assert second.ids[("T1", "st1")] == sorted([b.event_id, c.event_id])  # duplicates acked too
    assert store.conn.execute("SELECT count(*) FROM parcels").fetchone() == (3,)
    assert store.conn.execute("SELECT count(*) FROM parcel_codes").fetchone() == (3,)
    counters = dict(store.conn.execute("SELECT name, value FROM counters"))
    assert counters["events_ingested_total"] == 3
    assert counters["events_duplicate_total"] == 2
    assert counters["batches_total"] == 2
    assert counters["ingest_latency_seconds_count"] == 5
    assert counters["ingest_latency_seconds_bucket:+Inf"] == 5
    row = store.conn.execute("SELECT last_seq, last_event_ms FROM stations").fetchone()
    assert row[0] == 2 and row[1] > 0


def test_barcode_is_first_checked_code_and_every_code_is_kept(store: Store) -> None:
    ev = parcel("st2", 1).model_copy(
        update={"barcodes": [code("A", None), code("B", False), code("C", True), code("D", True)]}
    )
    assert primary_barcode(ev) == "C"
    assert primary_barcode(ev.model_copy(update={"barcodes": [code("A", False)]})) == "A"
    assert primary_barcode(ev.model_copy(update={"barcodes": []})) is None
    store.write(Batch(parcels=[(ev, ev.to_json(), now_ms())]))
    assert store.conn.execute("SELECT barcode, weight_kg, dock FROM parcels").fetchone() == (
        "C",
        1.25,
        "d2",
    )
    codes = store.conn.execute("SELECT text, check_ok FROM parcel_codes ORDER BY text").fetchall()
    assert codes == [("A", None), ("B", 0), ("C", 1), ("D", 1)]


def test_parcel_without_codes_or_weight(store: Store) -> None:
    ev = parcel("st1", 7).model_copy(update={"barcodes": [], "weight": None, "flags": ["a", "b"]})
    written = store.write(Batch(parcels=[(ev, ev.to_json(), now_ms())]))
    assert (written.inserted, written.duplicates) == (1, 0)
    row = store.conn.execute("SELECT barcode, weight_kg, flags, seq FROM parcels").fetchone()
    assert tuple(row) == (None, None, "a,b", 7)
    assert store.conn.execute("SELECT count(*) FROM parcel_codes").fetchone() == (0,)


def test_dead_letters_and_sessions(store: Store) -> None:
    store.write(
        Batch(dead=[dead_letter(1, "t/x", None, b"\xff" * 10, "invalid UTF-8 at byte 0", 64)])
    )
    assert store.conn.execute("SELECT topic, payload, reason FROM dead_letters").fetchall() == [
        ("t/x", b"\xff" * 10, "invalid UTF-8 at byte 0")
    ]
    assert [store.next_session("gw-1") for _ in range(3)] == [1, 2, 3]
    assert store.next_session("gw-2") == 1


def test_counters_are_kept_per_gateway(store_target: str) -> None:
    with Store(store_target, gateway="gw-a") as a, Store(store_target, gateway="gw-b") as b:
        for s, seq in ((a, 1), (b, 2), (a, 3)):
            ev = parcel("st1", seq)
            s.write(Batch(parcels=[(ev, ev.to_json(), now_ms())]), {"acks_sent_total": 2})
        b.add_counters({"acks_sent_total": 5}, {"broker_connected": 1})
        rows = a.conn.execute(
            "SELECT gateway, name, value FROM counters WHERE name IN"
            " ('events_ingested_total', 'acks_sent_total', 'broker_connected')"
            " ORDER BY gateway, name"
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("gw-a", "acks_sent_total", 4), ("gw-a", "events_ingested_total", 2),
        ("gw-b", "acks_sent_total", 7), ("gw-b", "broker_connected", 1),
        ("gw-b", "events_ingested_total", 1),
    ]  # fmt: skip
