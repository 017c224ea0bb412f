"""The durable outbox: a SQLite (WAL, synchronous=FULL) queue of events until the gateway acks."""

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dockscan.errors import StoreError
from dockscan.ids import uuid7
from edge.outbox_types import DDL, OutboxDiskFull, OutboxFull, OutboxStats, Row, is_disk_full

__all__ = ["Outbox", "OutboxDiskFull", "OutboxFull", "OutboxStats", "Row", "is_disk_full"]

logger = logging.getLogger(__name__)
MB = 1_000_000  # as the gateway's retention_max_mb


class Outbox:
    """A bounded, crash-safe event queue; thread-safe (one connection behind a lock).

    Bounded by event count (`max_events`) and optionally by file size (`max_mb`, MB of 10^6
    bytes, applied as SQLite's max_page_count). When an add finds no space, `full_reason` says
    why until an add commits without refusing or dropping, with a tenth of any cap free.
    """

    def __init__(
        self,
        path: str | Path,
        max_events: int = 1_000_000,
        overflow: str = "block",
        max_mb: float = 0,
    ) -> None:
        if overflow not in ("block", "drop_oldest"):
            raise ValueError(f"unknown overflow policy {overflow!r}")
        if max_mb < 0:
            raise ValueError(f"outbox size cap must be >= 0 MB, got {max_mb}")
        self.path, self.max_events, self.overflow = str(path), max_events, overflow
        self.max_mb = max_mb
        self.full_reason = ""
        self._unsaved: Counter[str] = Counter()  # counts a full disk kept from being written
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            if max_mb:
                self._cap_size(max_mb)
            self._db.executescript(DDL)
            self._depth = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open outbox {self.path}: {exc}") from exc

    def _cap_size(self, max_mb: float) -> None:
        """Limit the database file to about `max_mb` MB (never below its current size)."""
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        pages = max(1, int(max_mb * MB // page_size))
        applied = self._db.execute(f"PRAGMA max_page_count={pages}").fetchone()[0]
        if applied != pages:
            logger.warning(
                "outbox %s is already %d pages, above its %g MB cap: it is full until acks "
                "free space",
                self.path, applied, max_mb,
            )  # fmt: skip

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
            raise self._store_error(exc) from exc
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error | OSError):
                raise self._store_error(exc) from exc
            raise

    def _store_error(self, exc: BaseException) -> StoreError:
        """Wrap a SQLite error; no space becomes OutboxDiskFull."""
        if is_disk_full(exc):
            return OutboxDiskFull(f"outbox {self.path}: {exc}")
        return StoreError(f"outbox {self.path}: {exc}")

    def add(self, topic: str, build: Callable[[int, str], bytes]) -> Row:
        """Commit one event: assign seq and UUIDv7, build its payload, store it durably.

        With no space left, `block` refuses the event (OutboxDiskFull) and `drop_oldest` drops
        the oldest rows, doubling their number until the event fits.
        """
        with self._lock:
            event_id, extra = uuid7(), 0  # one id for every attempt, in seq order
            while True:
                try:
                    row, dropped = self._insert(topic, build, event_id, extra)
                    break
                except OutboxFull:
                    self._count("refused")
                    raise
                except OutboxDiskFull as exc:
                    if self.overflow == "drop_oldest" and extra < self._depth:
                        extra = min(max(1, 2 * extra), self._depth)
                        continue
                    if not self.full_reason:
                        logger.error("outbox has no space: %s", exc)
                    self.full_reason = self._full_reason(exc)
                    self._count("disk_full", "refused")
                    raise OutboxDiskFull(self.full_reason) from exc
            self._depth += 1 - dropped
            if extra:
                self.full_reason = self._full_reason(None)
                self._count("disk_full")
            elif self.full_reason and self._has_headroom():
                logger.warning("outbox has space again (was: %s)", self.full_reason)
                self.full_reason = ""
            if dropped:
                logger.warning("outbox full: dropped %d oldest event(s)", dropped)
            return row

    def _insert(
        self, topic: str, build: Callable[[int, str], bytes], event_id: str, extra: int
    ) -> tuple[Row, int]:
        """Insert one event in one durable transaction, first dropping `extra` oldest rows."""
        with self._transaction(durable=True):
            excess = self._depth - self.max_events + 1
            if excess > 0 and self.overflow == "block":
                raise OutboxFull(
                    f"outbox {self.path} holds {self._depth} events "
                    f"(max {self.max_events}); new events are refused"
                )
            dropped = self._drop_oldest(max(excess, 0) + extra)
            seq = max(self._meta("next_seq"), 1)
            payload = build(seq, event_id)
            self._db.execute(
                "INSERT INTO outbox(seq, event_id, topic, payload, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (seq, event_id, topic, payload, int(time.time() * 1000)),
            )
            self._set_meta("next_seq", seq + 1)
        return Row(seq, event_id, topic, payload), dropped

    def _drop_oldest(self, count: int) -> int:
        """Delete the `count` oldest rows inside the open transaction, counted as dropped."""
        if count <= 0:
            return 0
        cur = self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
            (count,),
        )
        self._set_meta("dropped", self._meta("dropped") + cur.rowcount)
        return cur.rowcount

    def _full_reason(self, exc: BaseException | None) -> str:
        """Describe a full outbox for the station's fault: at its size cap, or the disk full."""
        if self.overflow == "drop_oldest":
            action = "dropping the oldest events"
        else:
            action = "new events are refused"
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        cap = self._db.execute("PRAGMA max_page_count").fetchone()[0]
        if self.max_mb and pages + 4 >= cap:
            return f"disk full: outbox at {self.max_mb:g} MB cap; {action}"
        cause = exc.__cause__ if exc is not None and exc.__cause__ else exc
        return f"disk full: {cause or 'no space for the outbox'}; {action}"

    def _has_headroom(self) -> bool:
        """Return whether a capped file has a tenth of its cap free (no flapping fault)."""
        if not self.max_mb:
            return True
        cap, pages, free = (
            self._db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("max_page_count", "page_count", "freelist_count")
        )
        return (cap - pages + free) * 10 >= cap

    def _count(self, *keys: str) -> None:
        """Add one to meta counters; caller holds the lock. Kept in memory while disk is full."""
        self._unsaved.update(keys)
        try:
            with self._transaction(durable=True):
                for key, n in self._unsaved.items():
                    self._set_meta(key, self._meta(key) + n)
        except StoreError as exc:
            logger.warning("outbox counters kept in memory for now: %s", exc)
            return
        self._unsaved.clear()

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
        """Mark rows as PUBACKed by the broker (advisory: every row is re-sent after a restart).

        A full disk skips the marking (rows stay `pending`) rather than stopping the acks.
        """
        params = [(int(time.time() * 1000), s) for s in seqs]
        if not params:
            return
        try:
            with self._lock, self._transaction(durable=False):
                self._db.executemany(
                    "UPDATE outbox SET state='sent', sent_ms=?, attempts=attempts+1 WHERE seq=?",
                    params,
                )
        except OutboxDiskFull as exc:
            logger.debug("rows not marked sent: %s", exc)

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

    def _counter(self, key: str) -> int:
        """Return a meta counter including counts not yet written; caller holds the lock."""
        return self._meta(key) + self._unsaved[key]

    def loss_counters(self) -> dict[str, int]:
        """Return how many events were dropped or refused, and how often the disk was full."""
        with self._lock:
            keys = ("dropped", "refused", "disk_full")
            return {f"outbox_{k}": self._counter(k) for k in keys}

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
                dropped=self._counter("dropped"),
                refused=self._counter("refused"),
                disk_full=self._counter("disk_full"),
            )

    def close(self) -> None:
        """Close the database (checkpointing the WAL)."""
        with self._lock:
            self._db.close()
