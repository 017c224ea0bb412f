"""The durable outbox: a SQLite (WAL, synchronous=FULL) queue of events until the gateway acks."""

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dockscan.errors import StoreError
from dockscan.ids import uuid7

logger = logging.getLogger(__name__)

DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending, sent (PUBACKed, awaiting gateway ack)
    created_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxFull(StoreError):
    """The outbox is at its bound and the overflow policy is `block`: the event was refused."""


@dataclass(frozen=True)
class Row:
    """One stored event, payload bytes exactly as first serialised."""

    seq: int
    event_id: str
    topic: str
    payload: bytes


@dataclass(frozen=True)
class OutboxStats:
    """Depth and age figures for telemetry, the screen and `dockscan edge outbox`."""

    depth: int
    pending: int
    sent: int
    oldest_age_s: float | None
    next_seq: int
    session: int
    dropped: int
    refused: int


class Outbox:
    """A bounded, crash-safe event queue; thread-safe (one connection behind a lock)."""

    def __init__(
        self, path: str | Path, max_events: int = 1_000_000, overflow: str = "block"
    ) -> None:
        if overflow not in ("block", "drop_oldest"):
            raise ValueError(f"unknown overflow policy {overflow!r}")
        self.path, self.max_events, self.overflow = str(path), max_events, overflow
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(DDL)
            self._depth = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open outbox {self.path}: {exc}") from exc

    def _meta(self, key: str) -> int:
        """Read one meta counter (0 when unset); caller holds the lock."""
        row = self._db.execute("SELECT value FROM outbox_meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        """Write one meta counter; caller holds the lock inside a transaction."""
        self._db.execute(
            "INSERT INTO outbox_meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    @contextmanager
    def _transaction(self, durable: bool) -> Iterator[None]:
        """Run a write transaction (caller holds the lock); roll back on any error.

        Only durable transactions wait for fsync (synchronous=FULL); SQLite errors become
        StoreError.
        """
        try:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"outbox {self.path}: {exc}") from exc
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"outbox {self.path}: {exc}") from exc
            raise

    def add(self, topic: str, build: Callable[[int, str], bytes]) -> Row:
        """Commit one event: assign seq and UUIDv7, build its payload, store it durably."""
        with self._lock:
            try:
                with self._transaction(durable=True):
                    dropped = 0
                    if self._depth >= self.max_events:
                        dropped = self._make_room()
                    seq = max(self._meta("next_seq"), 1)
                    event_id = uuid7()
                    payload = build(seq, event_id)
                    self._db.execute(
                        "INSERT INTO outbox(seq, event_id, topic, payload, created_ms) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (seq, event_id, topic, payload, int(time.time() * 1000)),
                    )
                    self._set_meta("next_seq", seq + 1)
            except OutboxFull:
                self._bump("refused")
                raise
            self._depth += 1 - dropped
            if dropped:
                logger.warning("outbox full: dropped %d oldest event(s)", dropped)
            return Row(seq, event_id, topic, payload)

    def _make_room(self) -> int:
        """Apply the overflow policy inside the open transaction; return how many were dropped."""
        if self.overflow == "block":
            raise OutboxFull(
                f"outbox {self.path} holds {self._depth} events "
                f"(max {self.max_events}); new events are refused"
            )
        excess = self._depth - self.max_events + 1
        cur = self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
            (excess,),
        )
        self._set_meta("dropped", self._meta("dropped") + cur.rowcount)
        return cur.rowcount

    def _bump(self, key: str) -> None:
        """Add one to a meta counter in its own transaction; caller holds the lock."""
        with self._transaction(durable=True):
            self._set_meta(key, self._meta(key) + 1)

    def next_session(self) -> int:
        """Increment and return the persisted MQTT session counter."""
        with self._lock:
            self._bump("session")
            return self._meta("session")

    def rows_after(self, seq: int, limit: int) -> list[Row]:
        """Return up to `limit` stored rows with seq greater than `seq`, oldest first."""
        with self._lock:
            cur = self._db.execute(
                "SELECT seq, event_id, topic, payload FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (seq, limit),
            )
            return [Row(s, e, t, bytes(p)) for s, e, t, p in cur]

    def rows_by_id(self, event_ids: Iterable[str]) -> list[Row]:
        """Return the stored rows among these event ids, oldest first."""
        ids = list(event_ids)
        out: list[Row] = []
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                cur = self._db.execute(
                    f"SELECT seq, event_id, topic, payload FROM outbox WHERE event_id IN ({marks})",
                    chunk,
                )
                out.extend(Row(s, e, t, bytes(p)) for s, e, t, p in cur)
        return sorted(out, key=lambda r: r.seq)

    def mark_sent(self, seqs: Iterable[int]) -> None:
        """Mark rows as PUBACKed by the broker (advisory: every row is re-sent after a restart)."""
        params = [(int(time.time() * 1000), s) for s in seqs]
        if params:
            with self._lock, self._transaction(durable=False):
                self._db.executemany(
                    "UPDATE outbox SET state='sent', sent_ms=?, attempts=attempts+1 WHERE seq=?",
                    params,
                )

    def delete(self, event_ids: Iterable[str]) -> int:
        """Delete acknowledged rows in one transaction; return how many were stored.

        Not fsynced: a delete lost to power failure only means a harmless duplicate re-send.
        """
        params = [(e,) for e in event_ids]
        if not params:
            return 0
        with self._lock:
            with self._transaction(durable=False):
                before = self._db.total_changes
                self._db.executemany("DELETE FROM outbox WHERE event_id=?", params)
                removed = self._db.total_changes - before
            self._depth -= removed
            return removed

    @property
    def depth(self) -> int:
        """Return the number of events stored and not yet acknowledged."""
        return self._depth

    def loss_counters(self) -> dict[str, int]:
        """Return how many events the overflow policy dropped or refused, ever."""
        with self._lock:
            dropped, refused = self._meta("dropped"), self._meta("refused")
        return {"outbox_dropped": dropped, "outbox_refused": refused}

    def oldest_age_s(self) -> float | None:
        """Return the age in seconds of the oldest stored event (cheap: by primary key)."""
        with self._lock:
            row = self._db.execute("SELECT created_ms FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else max(0.0, time.time() - row[0] / 1000)

    def stats(self) -> OutboxStats:
        """Return depth, state counts, oldest age and counters."""
        with self._lock:
            rows = dict(
                self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
            )
            oldest = self._db.execute(
                "SELECT created_ms FROM outbox ORDER BY seq LIMIT 1"
            ).fetchone()
            oldest = oldest[0] if oldest else None
            age = None if oldest is None else max(0.0, time.time() - oldest / 1000)
            return OutboxStats(
                depth=sum(rows.values()),
                pending=rows.get("pending", 0),
                sent=rows.get("sent", 0),
                oldest_age_s=age,
                next_seq=max(self._meta("next_seq"), 1),
                session=self._meta("session"),
                dropped=self._meta("dropped"),
                refused=self._meta("refused"),
            )

    def close(self) -> None:
        """Close the database (checkpointing the WAL)."""
        with self._lock:
            self._db.close()
