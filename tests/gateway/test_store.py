"""The store: schema versions and migrations, batch writes, dedupe, codes, counters."""

import sqlite3
from pathlib import Path

import pytest

from dockscan.errors import StoreError
from dockscan.events import Barcode
from gateway.clock import now_ms
from gateway.deadletters import dead_letter
from gateway.schema import DDL, SCHEMA_VERSION, schema_version
from gateway.store import Batch, Store, open_db, primary_barcode
from tests.gateway.ingest_support import parcel


def code(text: str, check_ok: bool | None) -> Barcode:
    """Return a barcode with a given check result."""
    return Barcode(text=text, symbology="code128", source="cam", kind="x", check_ok=check_ok)


def test_new_database_is_wal_at_current_version(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert schema_version(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"parcels_station_ts", "parcels_outcome_ts", "parcel_codes_text"} <= indexes


def test_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(DDL)  # as the first release created it: no user_version
        conn.execute(
            "INSERT INTO stations (id, site, state, session) VALUES ('st1', 'T1', 'online', 3)"
        )
    conn.close()
    db = open_db(path)
    assert schema_version(db.conn) == SCHEMA_VERSION
    assert "seq_checked" in db["stations"].columns_dict
    assert db.conn.execute("SELECT state, session FROM stations").fetchall() == [("online", 3)]
    gap_index = [r[2] for r in db.conn.execute("PRAGMA index_info(parcels_station_seq)")]
    assert gap_index == ["station", "seq", "received_ms", "ts_ms"]  # version 4 covers the check
    db.conn.close()
    assert schema_version(open_db(path).conn) == SCHEMA_VERSION  # reopening is a no-op


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    open_db(path).conn.close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this gateway"):
        open_db(path)


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
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
    assert first.ids == {("T1", "st1"): [a.event_id, b.event_id]}
    second = store.write(Batch(parcels=[(b, b.to_json(), rx), (c, c.to_json(), rx)]))
    assert (second.inserted, second.duplicates) == (1, 1)
    assert second.ids[("T1", "st1")] == [b.event_id, c.event_id]  # duplicates are acked too
    assert store.conn.execute("SELECT count(*) FROM parcels").fetchone() == (3,)
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
    codes = store.conn.execute("SELECT text, check_ok FROM parcel_codes ORDER BY rowid").fetchall()
    assert codes == [("A", None), ("B", 0), ("C", 1), ("D", 1)]


def test_dead_letters_and_sessions(store: Store) -> None:
    store.write(
        Batch(dead=[dead_letter(1, "t/x", None, b"\xff" * 10, "invalid UTF-8 at byte 0", 64)])
    )
    assert store.conn.execute("SELECT topic, payload, reason FROM dead_letters").fetchall() == [
        ("t/x", b"\xff" * 10, "invalid UTF-8 at byte 0")
    ]
    assert [store.next_session("gw-1") for _ in range(3)] == [1, 2, 3]
    assert store.next_session("gw-2") == 1
