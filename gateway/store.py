"""The gateway store: open and migrate the SQLite file, write one batch per transaction."""

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from dockscan.errors import StoreError
from dockscan.events import ParcelEvent, StationStatus, Telemetry
from dockscan.topics import Topics
from gateway import deadletters, liveness
from gateway.clock import epoch_ms, now_ms
from gateway.deadletters import DeadLetter, dead_letter
from gateway.schema import migrate

logger = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 10_000
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
PARCEL_SQL = (
    "INSERT OR IGNORE INTO parcels (event_id, site, station, dock, seq, ts_ms, received_ms,"
    " committed_ms, outcome, barcode, weight_kg, flags, payload)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CODE_SQL = (
    "INSERT INTO parcel_codes (event_id, text, symbology, kind, check_ok) VALUES (?, ?, ?, ?, ?)"
)
STATION_SQL = (
    "UPDATE stations SET last_seen_ms = max(coalesce(last_seen_ms, 0), ?),"
    " last_event_ms = max(coalesce(last_event_ms, 0), ?),"
    " last_seq = max(coalesce(last_seq, -1), ?) WHERE id = ?"
)
COUNTER_ADD_SQL = (
    "INSERT INTO counters (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
)
COUNTER_SET_SQL = "INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)"
# Errors caused by what a batch contains (not by the database being locked or full).
DATA_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError, ValueError)


@dataclass
class Batch:
    """What arrived since the last commit; it is written in one transaction, then acknowledged."""

    messages: list[tuple[str, bytes, int]] = field(default_factory=list)  # topic, payload, rx ms
    parcels: list[tuple[ParcelEvent, bytes, int]] = field(default_factory=list)
    signals: list[tuple[StationStatus | Telemetry, int]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    pubacks: list[tuple[int, int]] = field(default_factory=list)
    opened: float = 0.0

    def __bool__(self) -> bool:
        """Return whether anything (even just a message to PUBACK) is waiting."""
        return bool(self.messages or self.parcels or self.signals or self.dead or self.pubacks)


@dataclass
class Written:
    """The outcome of one committed batch: counts and the ids to acknowledge per station."""

    inserted: int = 0
    duplicates: int = 0
    dead: int = 0  # new dead-letter rows
    dead_repeated: int = 0  # dead letters that were already stored (their repeats went up)
    ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    committed_ms: int = 0


def primary_barcode(event: ParcelEvent) -> str | None:
    """Return the first code whose check passed, else the first code, else None."""
    for code in event.barcodes:
        if code.check_ok:
            return code.text
    return event.barcodes[0].text if event.barcodes else None


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the store in WAL mode and migrate it to the current schema."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
        db = sqlite_utils.Database(conn)
        db.enable_wal()
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the gateway database {path}: {exc}") from exc
    return db


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction (BEGIN IMMEDIATE), rolling back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Store:
    """The ingest side of the store; its connection belongs to the thread that created it."""

    def __init__(self, path: str | Path, background_checkpoints: bool = False) -> None:
        self.db = open_db(path)
        self.conn = self.db.conn
        self.checkpointer: Checkpointer | None = None
        if background_checkpoints:
            self.conn.execute("PRAGMA wal_autocheckpoint = 0")
            self.checkpointer = Checkpointer(path)
            self.checkpointer.start()

    def close(self) -> None:
        """Close the connection (after the checkpointer's last checkpoint)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_stations(self, site: str, stations: Iterable[tuple[str, str | None]]) -> None:
        """Create rows for configured stations (id, dock) that have none yet."""
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT OR IGNORE INTO stations (id, site, dock) VALUES (?, ?, ?)",
                [(sid, site, dock) for sid, dock in stations],
            )

    def write(self, batch: Batch, counts: dict[str, float] | None = None) -> Written:
        """Write a batch in one transaction: dead letters, new parcels, liveness, counters."""
        out = Written()
        with transaction(self.conn):
            out.committed_ms = now_ms()
            if batch.dead:
                out.dead, out.dead_repeated = deadletters.write(self.conn, batch.dead)
            if batch.parcels:
                self._write_parcels(batch.parcels, out)
            for signal, received in batch.signals:
                liveness.apply(self.conn, signal, received)
            self._count(batch, out, counts or {})
        return out

    def write_each(
        self, batch: Batch, counts: dict[str, float], topics: Topics, max_bytes: int
    ) -> Written:
        """Write a refused batch one message at a time; what is refused again is dead-lettered."""
        out, dead = Written(), list(batch.dead)
        items: list[tuple[Batch, ParcelEvent | StationStatus | Telemetry, bytes, int]] = [
            (Batch(parcels=[p]), p[0], p[1], p[2]) for p in batch.parcels
        ]
        items += [(Batch(signals=[s]), s[0], s[0].to_json(), s[1]) for s in batch.signals]
        for single, value, raw, received in items:
            try:
                done = self.write(single)
            except DATA_ERRORS as exc:
                kind = {ParcelEvent: "parcel", StationStatus: "status"}.get(
                    type(value), "telemetry"
                )
                topic = topics.station(value.site, value.station, kind)
                reason = f"store refused it: {type(exc).__name__}: {exc}"
                dead.append(dead_letter(received, topic, value.station, raw, reason, max_bytes))
                continue
            out.inserted += done.inserted
            out.duplicates += done.duplicates
            for key, ids in done.ids.items():
                out.ids.setdefault(key, []).extend(ids)
        last = self.write(Batch(dead=dead), counts)
        out.dead, out.dead_repeated = last.dead, last.dead_repeated
        out.committed_ms = last.committed_ms
        return out

    def _write_parcels(self, parcels: list[tuple[ParcelEvent, bytes, int]], out: Written) -> None:
        """Insert the parcels not stored yet, with their codes, and note every id to ack."""
        unique = {event.event_id: (event, payload, rx) for event, payload, rx in parcels}
        marks = ",".join("?" * len(unique))
        known = {
            row[0]
            for row in self.conn.execute(
                f"SELECT event_id FROM parcels WHERE event_id IN ({marks})", list(unique)
            )
        }
        rows: list[tuple] = []
        codes: list[tuple] = []
        seen: dict[str, list] = {}  # station -> [site, dock, last received, last ts, last seq]
        for event_id, (event, payload, received) in unique.items():
            ts = epoch_ms(event.ts)
            out.ids.setdefault((event.site, event.station), []).append(event_id)
            last = seen.setdefault(event.station, [event.site, event.dock, 0, 0, -1])
            last[2], last[3], last[4] = (
                max(last[2], received),
                max(last[3], ts),
                max(last[4], event.seq),
            )
            if event_id in known:
                continue
            weight = event.weight.value if event.weight else None
            rows.append(
                (event_id, event.site, event.station, event.dock, event.seq, ts, received,
                 out.committed_ms, event.outcome.value, primary_barcode(event), weight,
                 ",".join(event.flags), payload.decode())
            )  # fmt: skip
            codes.extend(
                (event_id, c.text, c.symbology, c.kind, c.check_ok) for c in event.barcodes
            )
        self.conn.executemany(PARCEL_SQL, rows)
        self.conn.executemany(CODE_SQL, codes)
        self.conn.executemany(
            "INSERT OR IGNORE INTO stations (id, site, dock) VALUES (?, ?, ?)",
            [(st, v[0], v[1]) for st, v in seen.items()],
        )
        self.conn.executemany(STATION_SQL, [(v[2], v[3], v[4], st) for st, v in seen.items()])
        out.inserted = len(rows)
        out.duplicates = len(parcels) - len(rows)

    def _count(self, batch: Batch, out: Written, extra: dict[str, float]) -> None:
        """Add this batch (and `extra`) to the counters table that /metrics reads."""
        add = {
            **extra,
            "events_ingested_total": out.inserted,
            "events_duplicate_total": out.duplicates,
            "dead_letters_total": out.dead,
            "dead_letters_repeated_total": out.dead_repeated,
            "batches_total": 1,
        }
        if batch.parcels:
            waits = [(out.committed_ms - rx) / 1000 for _, _, rx in batch.parcels]
            add["ingest_latency_seconds_sum"] = sum(waits)
            add["ingest_latency_seconds_count"] = len(waits)
            for le in LATENCY_BUCKETS:
                add[f"ingest_latency_seconds_bucket:{le:g}"] = sum(1 for w in waits if w <= le)
            add["ingest_latency_seconds_bucket:+Inf"] = len(waits)
        self.conn.executemany(COUNTER_ADD_SQL, [(k, v) for k, v in add.items() if v])
        self.conn.execute(COUNTER_SET_SQL, ("heartbeat_ms", out.committed_ms))

    def add_counters(self, add: dict[str, float], absolute: dict[str, float]) -> None:
        """Add to and set counters outside a batch (acks sent, heartbeat, connection state)."""
        with transaction(self.conn):
            self.conn.executemany(COUNTER_ADD_SQL, [(k, v) for k, v in add.items() if v])
            self.conn.executemany(COUNTER_SET_SQL, list(absolute.items()))

    def next_session(self, client_id: str) -> int:
        """Return this gateway client's next session number (+1 per connect, kept in meta)."""
        key = f"gateway_session:{client_id}"
        with transaction(self.conn):
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            session = int(row[0]) + 1 if row else 1
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(session))
            )
        return session

    def check_liveness(self, defaults: liveness.Defaults, gap_grace_ms: int | None) -> None:
        """Mark silent stations stale and, when gap_grace_ms is given, record seq gaps."""
        with transaction(self.conn):
            at = now_ms()
            liveness.check_stale(self.conn, at, defaults)
            if gap_grace_ms is not None:
                liveness.check_seq_gaps(self.conn, at, gap_grace_ms)


class Checkpointer(threading.Thread):
    """Checkpoints the WAL from its own connection, so the ingest thread never waits on fsync."""

    def __init__(self, path: str | Path, every_s: float = 1.0) -> None:
        super().__init__(name="wal-checkpoint", daemon=True)
        self.path, self.every_s = path, every_s
        self.stop_event = threading.Event()

    def run(self) -> None:
        """Run a PASSIVE checkpoint every `every_s` until stopped (it never blocks writers)."""
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            while not self.stop_event.wait(self.every_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    logger.warning("WAL checkpoint failed: %s", exc)
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop after one last checkpoint and wait for it."""
        self.stop_event.set()
        self.join(10)
