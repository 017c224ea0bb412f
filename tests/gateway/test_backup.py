"""`dockscan gateway backup` over a real Mosquitto while a real gateway keeps ingesting."""

import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from dockscan.events import ParcelEvent
from gateway.backup import BackupError, BackupTargetError, backup
from gateway.schema import SCHEMA_VERSION, schema_version
from gateway.store import Batch, Store
from tests.gateway.ingest_support import (
    StartGateway,
    Station,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    parcel,
    query,
    topic,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for

SEEDED = 20_000  # about 20 MB: at 64 pages a step the copy takes hundreds of steps


def run_backup(config: Path, output: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `dockscan gateway backup` as a subprocess and return its result."""
    argv = [sys.executable, "-m", "dockscan", "gateway", "backup", "-c", str(config)]
    argv += ["-o", str(output), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def seed(db: Path, count: int, station: str = "st3") -> None:
    """Write `count` parcels into the store through the ingest code, 1000 per batch."""
    with Store(db) as store:
        for start in range(0, count, 1000):
            events = [parcel(station, seq) for seq in range(start, min(count, start + 1000))]
            store.write(Batch(parcels=[(e, e.to_json(), 1) for e in events]))


class Publisher(threading.Thread):
    """Publishes parcel events from st1 and st2, 20 at a time, until stopped."""

    def __init__(self, port: int) -> None:
        super().__init__(name="publisher", daemon=True)
        self.station = Station(port, name="backup-publisher")
        self.sent: list[ParcelEvent] = []
        self.stop_event = threading.Event()
        self.seq = 0

    def run(self) -> None:
        """Publish until stopped, waiting for every PUBACK."""
        while not self.stop_event.is_set():
            self.publish(20)
            time.sleep(0.01)

    def publish(self, n: int) -> None:
        """Publish n new events (alternating st1 and st2) and wait for the broker to have them."""
        events = [parcel(f"st{1 + i % 2}", self.seq + i // 2) for i in range(n)]
        self.seq += n
        self.station.publish_many([(topic(e.station, "parcel"), e.to_json()) for e in events])
        self.sent.extend(events)

    def stop(self) -> None:
        """Stop publishing and wait for the thread."""
        self.stop_event.set()
        self.join(30)


def ids(db: Path) -> set[str]:
    """Return every parcel event_id in a store."""
    return {r[0] for r in query(db, "SELECT event_id FROM parcels")}


def assert_consistent(copy: Path) -> None:
    """Assert the copy is whole and transactionally consistent (each batch all or nothing)."""
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
        assert schema_version(conn) == SCHEMA_VERSION
        n = conn.execute("SELECT count(*) FROM parcels").fetchone()[0]
        # The counter, the codes and the stations' last_seq are written in the parcels' batch.
        ingested = conn.execute(
            "SELECT sum(value) FROM counters WHERE name = 'events_ingested_total'"
        ).fetchone()
        assert ingested == (n,)
        orphans = conn.execute(
            "SELECT count(*) FROM parcels p WHERE NOT EXISTS"
            " (SELECT 1 FROM parcel_codes c WHERE c.event_id = p.event_id)"
        ).fetchone()[0]
        assert orphans == 0
        assert conn.execute("SELECT count(*) FROM parcel_codes").fetchone()[0] == n
        seqs = conn.execute(
            "SELECT s.id, s.last_seq, max(p.seq) FROM stations s JOIN parcels p"
            " ON p.station = s.id GROUP BY s.id"
        ).fetchall()
        assert seqs and all(last == top for _, last, top in seqs), seqs
        for event_id, payload in conn.execute("SELECT event_id, payload FROM parcels"):
            assert ParcelEvent.model_validate(orjson.loads(payload)).event_id == event_id
    finally:
        conn.close()


def test_backup_while_ingesting_is_a_snapshot_and_restores(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=3)
    db = tmp_path / "gw.db"
    seed(db, SEEDED)
    gw = gateways(cfg)
    publisher = Publisher(mosquitto.port)
    copy = tmp_path / "backups" / "gw-copy.db"
    copy.parent.mkdir()
    try:
        publisher.start()
        wait_for(lambda: len(ids(db)) >= SEEDED + 1000, 30, what="1000 events committed")
        before = ids(db)
        started_ms = time.time() * 1000
        result = run_backup(cfg, copy, "--step-pages", "64")
        finished_ms = time.time() * 1000
        after = ids(db)
        publisher.stop()
        assert result.returncode == 0, result.stderr
        copied = ids(copy)
        assert before <= copied <= after  # every event committed before it started is in it
        assert len(before) <= len(copied) <= len(after)
        assert_consistent(copy)
        # Ingest went on committing while the copy was being taken.
        during = query(
            db,
            "SELECT count(*) FROM parcels WHERE committed_ms > ? AND committed_ms < ?",
            started_ms,
            finished_ms,
        )[0][0]
        assert during > 0
        assert len(after) > len(before)
        out = result.stdout
        assert f"schema version {SCHEMA_VERSION}" in out and "integrity ok" in out
        assert f"parcels {len(copied)}," in out and "stations 3" in out
        assert f"{copy.stat().st_size} bytes" in out
        steps = int(re.search(r"pages in (\d+) steps", out)[1])  # type: ignore[index]
        assert steps > 50  # many steps, with ingest committing between them
        assert [p.name for p in copy.parent.iterdir()] == ["gw-copy.db"]  # no temp file left
        wait_for(lambda: len(ids(db)) == SEEDED + len(publisher.sent), 30, what="all committed")
        assert copied <= ids(db)
    finally:
        publisher.station.close()
    assert gw.stop() == 0

    # Restore: gateway stopped, the copy put in place of a database, gateway started on it.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    restored = restored_dir / "gw.db"
    shutil.copyfile(copy, restored)
    gateways(write_config(restored_dir, mosquitto.url, stations=3))
    more = Publisher(mosquitto.port)
    more.seq = 1_000_000
    try:
        more.publish(200)
        want = copied | {e.event_id for e in more.sent}
        wait_for(lambda: ids(restored) == want, 30, what="restored gateway ingesting")
    finally:
        more.station.close()
    assert query(restored, "PRAGMA journal_mode") == [("wal",)]
    assert query(restored, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_output_exists_or_directory_missing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "mqtt://127.0.0.1:1")
    seed(tmp_path / "gw.db", 50)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "gw.db"
    existing.write_text("an older backup\n")

    refused = run_backup(cfg, existing)
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"error: {existing} exists; pass --force to overwrite it"
    assert existing.read_text() == "an older backup\n"
    assert [p.name for p in out_dir.iterdir()] == ["gw.db"]

    forced = run_backup(cfg, existing, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "parcels 50," in forced.stdout
    assert query(existing, "SELECT count(*) FROM parcels") == [(50,)]

    missing = tmp_path / "no-such-dir" / "gw.db"
    failed = run_backup(cfg, missing)
    assert failed.returncode == 2
    assert failed.stderr.strip() == (
        f"error: cannot write {missing}: directory {missing.parent} does not exist"
    )
    assert not missing.parent.exists()

    onto_dir = run_backup(cfg, out_dir, "--force")
    assert onto_dir.returncode == 2
    assert "it is a directory" in onto_dir.stderr
    with pytest.raises(BackupTargetError, match="exists; pass --force"):
        backup(tmp_path / "gw.db", existing)


def test_corrupt_store_is_refused_and_no_copy_is_left(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    seed(db, 3000)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")  # fold the WAL into the file
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'parcel_codes_text'"
        ).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db, "r+b") as fh:  # a garbage header on the index's root page
        fh.seek((root - 1) * page_size)
        fh.write(b"\x0a" + b"\xff" * 11)
    dest = tmp_path / "copy.db"
    with pytest.raises(BackupError, match="the copy failed integrity_check"):
        backup(db, dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gw.db"]
