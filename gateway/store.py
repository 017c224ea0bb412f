"""The gateway store (SQLite or PostgreSQL): open and migrate it, write a batch per transaction."""

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from dockscan.events import ParcelEvent, StationStatus, Telemetry
from dockscan.topics import Topics
from gateway import deadletters, liveness
from gateway.clearing import backlog
from gateway.clock import epoch_ms, now_ms
from gateway.db import Connection, is_postgres, open_store
from gateway.db.sqlite import BUSY_TIMEOUT_MS
from gateway.deadletters import DeadLetter, dead_letter
from gateway.reconcile import queue
from gateway.reconcile.matcher import Reconciler, stored_verdicts

logger = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
PARCEL_COLUMNS = (
    "event_id, site, station, dock, seq, ts_ms, received_ms, committed_ms, outcome, barcode,"
    " weight_kg, flags, payload"
)
PARCEL_SQL = f"INSERT INTO parcels ({PARCEL_COLUMNS}) VALUES ({', '.join('?' * 13)})"
# PostgreSQL: one statement per batch over arrays; RETURNING names the rows this transaction
# inserted, so two gateways storing the same event count it (and its codes) once.
# The arrays go in binary (%b): as text, psycopg would quote every element in Python, which
# cost the PostgreSQL gateway more than half its speed (bench/RESULTS.md).
PG_PARCEL_SQL = (
    f"INSERT INTO parcels ({PARCEL_COLUMNS}) SELECT * FROM unnest(%b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::text[],"
    " %b::text[], %b::float8[], %b::text[], %b::text[]) ON CONFLICT DO NOTHING RETURNING event_id"
)
CODE_SQL = (
    "INSERT INTO parcel_codes (event_id, text, symbology, kind, check_ok) VALUES (?, ?, ?, ?, ?)"
)
PG_CODE_SQL = (
    "INSERT INTO parcel_codes (event_id, text, symbology, kind, check_ok)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::int[])"
)
NEW_STATION_SQL = "INSERT INTO stations (id, site, dock) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
LOCK_STATIONS_SQL = "SELECT id FROM stations WHERE id = ANY(?) ORDER BY id FOR UPDATE"
STATION_SQL = (
    "UPDATE stations SET last_seen_ms = greatest(coalesce(last_seen_ms, 0), ?),"
    " last_event_ms = greatest(coalesce(last_event_ms, 0), ?),"
    " last_seq = greatest(coalesce(last_seq, -1), ?) WHERE id = ?"
)
COUNTER_ADD_SQL = (
    "INSERT INTO counters (gateway, name, value) VALUES (?, ?, ?)"
    " ON CONFLICT (gateway, name) DO UPDATE SET value = counters.value + excluded.value"
)
COUNTER_SET_SQL = (
    "INSERT INTO counters (gateway, name, value) VALUES (?, ?, ?)"
    " ON CONFLICT (gateway, name) DO UPDATE SET value = excluded.value"
)
META_SET_SQL = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
# Errors caused by what a batch contains (not by the database being locked, full or down).
DATA_ERRORS = (
    sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError, ValueError,
    psycopg.errors.DataError, psycopg.errors.IntegrityError,
)  # fmt: skip


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
    verdicts: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # wire
    committed_ms: int = 0


def primary_barcode(event: ParcelEvent) -> str | None:
    """Return the first code whose check passed, else the first code, else None."""
    for code in event.barcodes:
        if code.check_ok:
            return code.text
    return event.barcodes[0].text if event.barcodes else None


def _flag(value: bool | None) -> int | None:
    """Return a boolean as the 0/1 the INTEGER column holds (None stays None)."""
    return None if value is None else int(value)


def open_db(target: str | Path, password: str | None = None) -> Connection:
    """Open (creating and migrating if needed) the store named by `gateway.database`."""
    return open_store(str(target), password)


@contextmanager
def transaction(conn: Connection) -> Iterator[None]:
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

    def __init__(
        self,
        target: str | Path,
        background_checkpoints: bool = False,
        *,
        gateway: str = "",
        password: str | None = None,
        reconciler: Reconciler | None = None,
        judge: bool = True,
    ) -> None:
        self.conn: Any = open_db(target, password)
        self.gateway = gateway  # whose counter rows this store writes
        # A reconciler queues new parcels for their verdicts in their transaction; `judge`
        # decides them there too, else the reconciler process does (gateway/reconcile/).
        self.reconciler, self.judge_now = reconciler, judge
        self.postgres = is_postgres(str(target))
        self.checkpointer: Checkpointer | None = None
        if background_checkpoints and not self.postgres:
            self.conn.execute("PRAGMA wal_autocheckpoint = 0")
            self.checkpointer = Checkpointer(target)
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
                NEW_STATION_SQL, sorted((sid, site, dock) for sid, dock in stations)
            )

    def write(self, batch: Batch, counts: dict[str, float] | None = None) -> Written:
        """Write a batch in one transaction: dead letters, new parcels, liveness, counters."""
        out = Written()
        with transaction(self.conn):
            out.committed_ms = now_ms()
            if self.postgres:
                self._lock_stations(batch)
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
            for key, verdicts in done.verdicts.items():
                out.verdicts.setdefault(key, []).extend(verdicts)
        last = self.write(Batch(dead=dead), counts)
        out.dead, out.dead_repeated = last.dead, last.dead_repeated
        out.committed_ms = last.committed_ms
        return out

    def _lock_stations(self, batch: Batch) -> None:
        """PostgreSQL: create and lock the batch's stations in id order before anything else.

        Gateways writing batches that touch the same stations then take turns instead of
        deadlocking (parcels of one station with a status of another, and the reverse).
        """
        first: dict[str, tuple[str, str | None]] = {}
        for event, _, _ in batch.parcels:
            first.setdefault(event.station, (event.site, event.dock))
        for signal, _ in batch.signals:
            first.setdefault(signal.station, (signal.site, getattr(signal, "dock", None)))
        if first:
            ids = sorted(first)
            self.conn.executemany(NEW_STATION_SQL, [(st, *first[st]) for st in ids])
            self.conn.execute(LOCK_STATIONS_SQL, (ids,))

    def _write_parcels(self, parcels: list[tuple[ParcelEvent, bytes, int]], out: Written) -> None:
        """Insert the parcels not stored yet, with their codes, and note every id to ack."""
        unique = {event.event_id: (event, payload, rx) for event, payload, rx in parcels}
        rows: list[tuple] = []
        codes: list[tuple] = []
        seen: dict[str, list] = {}  # station -> [site, dock, last received, last ts, last seq]
        for event_id in sorted(unique):  # one lock order for every gateway: no deadlocks
            event, payload, received = unique[event_id]
            ts = epoch_ms(event.ts)
            out.ids.setdefault((event.site, event.station), []).append(event_id)
            last = seen.setdefault(event.station, [event.site, event.dock, 0, 0, -1])
            last[2], last[3], last[4] = (
                max(last[2], received),
                max(last[3], ts),
                max(last[4], event.seq),
            )
            weight = event.weight.value if event.weight else None
            rows.append(
                (event_id, event.site, event.station, event.dock, event.seq, ts, received,
                 out.committed_ms, event.outcome.value, primary_barcode(event), weight,
                 ",".join(event.flags), payload.decode())
            )  # fmt: skip
            codes.extend(
                (event_id, c.text, c.symbology, c.kind, _flag(c.check_ok)) for c in event.barcodes
            )
        stations = sorted(seen.items())
        self.conn.executemany(NEW_STATION_SQL, [(st, v[0], v[1]) for st, v in stations])
        self.conn.executemany(STATION_SQL, [(v[2], v[3], v[4], st) for st, v in stations])
        insert = self._insert_pg if self.postgres else self._insert_sqlite
        new = insert(rows, codes)
        backlog.add(self.conn, [(unique[r[0]][0], r[5], r[6]) for r in rows if r[0] in new])
        out.inserted = len(new)
        out.duplicates = len(parcels) - len(new)
        if self.reconciler is not None:
            self._reconcile(unique, [(r[0], r[5]) for r in rows if r[0] in new], out)

    def _reconcile(
        self, unique: dict[str, tuple[ParcelEvent, bytes, int]], new: list[tuple[str, int]],
        out: Written,
    ) -> None:  # fmt: skip
        """Queue new parcels (event id, ts) for verdicts; a re-sent one gets its stored verdict."""
        reconciler = self.reconciler
        assert reconciler is not None
        queue.enqueue(self.conn, (reconciler.sighting(unique[e][0], ts) for e, ts in new))
        if self.judge_now:
            while judged := reconciler.drain(self.conn, out.committed_ms):
                for station, verdicts in judged.items():
                    out.verdicts.setdefault((reconciler.site, station), []).extend(verdicts)
        resent = sorted(set(unique) - {e for e, _ in new})
        for verdict in stored_verdicts(self.conn, resent) if resent else []:
            event = unique[verdict["event_id"]][0]
            out.verdicts.setdefault((event.site, event.station), []).append(verdict)

    def _insert_sqlite(self, rows: list[tuple], codes: list[tuple]) -> set[str]:
        """Insert the rows not stored yet (the only writer: a lookup tells which are new)."""
        marks = ",".join("?" * len(rows))
        known = {
            r[0]
            for r in self.conn.execute(
                f"SELECT event_id FROM parcels WHERE event_id IN ({marks})", [r[0] for r in rows]
            )
        }
        rows = [r for r in rows if r[0] not in known]
        self.conn.executemany(PARCEL_SQL, rows)
        self.conn.executemany(CODE_SQL, [c for c in codes if c[0] not in known])
        return {r[0] for r in rows}

    def _insert_pg(self, rows: list[tuple], codes: list[tuple]) -> set[str]:
        """Insert the rows in one array statement; codes only for the rows it inserted."""
        columns = [list(col) for col in zip(*rows, strict=True)]
        inserted = {r[0] for r in self.conn.execute(PG_PARCEL_SQL, columns).fetchall()}
        codes = [c for c in codes if c[0] in inserted]
        if codes:
            self.conn.execute(PG_CODE_SQL, [list(col) for col in zip(*codes, strict=True)])
        return inserted

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
        gw = self.gateway
        self.conn.executemany(COUNTER_ADD_SQL, [(gw, k, v) for k, v in sorted(add.items()) if v])
        self.conn.execute(COUNTER_SET_SQL, (gw, "heartbeat_ms", out.committed_ms))

    def add_counters(self, add: dict[str, float], absolute: dict[str, float]) -> None:
        """Add to and set counters outside a batch (acks sent, heartbeat, connection state)."""
        gw = self.gateway
        with transaction(self.conn):
            self.conn.executemany(
                COUNTER_ADD_SQL, [(gw, k, v) for k, v in sorted(add.items()) if v]
            )
            self.conn.executemany(COUNTER_SET_SQL, [(gw, k, v) for k, v in absolute.items()])

    def next_session(self, client_id: str) -> int:
        """Return this gateway client's next session number (+1 per connect, kept in meta)."""
        key = f"gateway_session:{client_id}"
        with transaction(self.conn):
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            session = int(row[0]) + 1 if row else 1
            self.conn.execute(META_SET_SQL, (key, str(session)))
        return session

    def check_liveness(self, defaults: liveness.Defaults, gap_grace_ms: int | None) -> None:
        """Mark silent stations stale and, when gap_grace_ms is given, record seq gaps.

        PostgreSQL: every station row is locked first, in id order, as batches lock theirs
        (the stale pass and the gap pass would otherwise each lock in id order, one after
        the other, and deadlock with a batch holding one station and waiting for another).
        """
        with transaction(self.conn):
            if self.postgres:
                self.conn.execute("SELECT id FROM stations ORDER BY id FOR UPDATE")
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
