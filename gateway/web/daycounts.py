"""Parcels per station and outcome since local midnight, kept current from new rowids.

Counting today's parcels by outcome needs table lookups (no index holds station and outcome
together), so the board would pay for it on every request. Instead this keeps the counts in
memory: rebuilt from indexes at start, at midnight and every few minutes, and advanced in
between by reading only the rows added since (rowid > last seen; the store only appends).
On PostgreSQL, where rows commit out of identity order, every snapshot recounts (a covering
index on ts_ms makes that an index-only scan) and the board cache bounds how often.
"""

import threading
from collections import Counter

from gateway.web import queries
from gateway.web.formatting import day_start_ms

REBUILD_EVERY_MS = 5 * 60_000
ADVANCE_LIMIT = 20_000


class DayCounts:
    """Shared by all request threads; every method takes the caller's own connection."""

    def __init__(self, zone: object) -> None:
        self.zone = zone
        self._lock = threading.Lock()
        self._day: int | None = None
        self._rowid = 0
        self._built_ms = 0
        self._counts: dict[str, Counter[str]] = {}

    def snapshot(self, conn: queries.Conn, now: int) -> dict[str, dict[str, int]]:
        """Return {station: {outcome: count}} for today, bringing the counts up to date first."""
        day = day_start_ms(now, self.zone)  # type: ignore[arg-type]
        with self._lock:
            stale = day != self._day or now - self._built_ms > REBUILD_EVERY_MS
            if conn.dialect != "sqlite":
                self._recount(conn, day, now)
            elif stale or not self._advance(conn):
                self._rebuild(conn, day, now)
            return {station: dict(c) for station, c in self._counts.items()}

    def _rebuild(self, conn: queries.Conn, day: int, now: int) -> None:
        """Recount today from the indexes, in one read transaction so the rowid matches."""
        conn.execute("BEGIN")
        try:
            top = queries.max_parcel_rowid(conn)
            self._recount(conn, day, now)
        finally:
            conn.execute("COMMIT")
        self._rowid = top

    def _recount(self, conn: queries.Conn, day: int, now: int) -> None:
        """Count today from the indexes (alone on PostgreSQL: no rowid order to advance by)."""
        counts: dict[str, Counter[str]] = {}
        for station, total in queries.counts_since(conn, day):
            counts[station] = Counter({"*": total})
        for station, by_outcome in queries.problem_counts(conn, day).items():
            counts.setdefault(station, Counter()).update(by_outcome)
        self._counts, self._day, self._built_ms = counts, day, now

    def _advance(self, conn: queries.Conn) -> bool:
        """Add rows stored since the last look; False if the rowids went backwards (rebuild)."""
        if self._day is None:
            return False
        rows = queries.parcels_after_rowid(conn, self._rowid, ADVANCE_LIMIT)
        if len(rows) == ADVANCE_LIMIT:
            return False  # a long gap: recounting from the indexes is cheaper
        if not rows and queries.max_parcel_rowid(conn) < self._rowid:
            return False  # rows removed from the top (restore, VACUUM): counts are unreliable
        for rowid, station, outcome, ts_ms in rows:
            self._rowid = rowid
            if ts_ms >= self._day:
                counter = self._counts.setdefault(station, Counter())
                counter["*"] += 1
                if outcome in queries.PROBLEM_OUTCOMES:
                    counter[outcome] += 1
        return True
