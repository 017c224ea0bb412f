"""Retention: delete parcels by age and by database size, in slices, on a schedule.

The size cap is for SQLite only: PostgreSQL keeps the space a DELETE frees for new rows
instead of returning it, so its size would never come down (config refuses the cap there).
"""

import logging
import math
from dataclasses import dataclass

from dockscan.config import GatewayConfig
from gateway.db import Connection
from gateway.store import transaction

logger = logging.getLogger(__name__)
DAY_MS = 86_400_000
SLICE_ROWS = 5000


@dataclass
class Purged:
    """Rows deleted by one retention pass."""

    parcels: int = 0
    dead_letters: int = 0
    station_events: int = 0

    def __iadd__(self, other: "Purged") -> "Purged":
        self.parcels += other.parcels
        self.dead_letters += other.dead_letters
        self.station_events += other.station_events
        return self


def used_bytes(conn: Connection) -> int:
    """Return the bytes of database pages in use (free pages not counted; SQLite only)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * conn.execute("PRAGMA page_size").fetchone()[0]


def _delete_parcels(conn: Connection, where: str, args: tuple, limit: int) -> int:
    """Delete up to `limit` oldest parcels matching `where`, with what belongs to them.

    A parcel still waiting for its verdict stays in the verdict queue's batch; the reconciler
    stores no verdict for a parcel that is gone (gateway/reconcile/matcher.py). Set-based
    statements in the caller's transaction (each picks the same rows): a row at
    a time would hand Python's GIL back and forth with the ingest thread for every row.
    """
    oldest = f"SELECT event_id FROM parcels WHERE {where} ORDER BY ts_ms, event_id LIMIT ?"
    conn.execute(f"DELETE FROM parcel_codes WHERE event_id IN ({oldest})", (*args, limit))
    for table in ("verdicts", "corrections", "evidence", "clearing_open"):
        conn.execute(f"DELETE FROM {table} WHERE event_id IN ({oldest})", (*args, limit))
    deleted = conn.execute(f"DELETE FROM parcels WHERE event_id IN ({oldest})", (*args, limit))
    return deleted.rowcount


def _delete_dead_letters(conn: Connection, cutoff_ms: int | None, limit: int) -> int:
    """Delete up to `limit` dead letters last received before cutoff (None: no cutoff)."""
    where, args = "TRUE", ()
    if cutoff_ms is not None:  # rows written before schema 3 may lack last_ms
        where = "last_ms < ? OR (last_ms IS NULL AND received_ms < ?)"
        args = (cutoff_ms, cutoff_ms)
    return conn.execute(
        "DELETE FROM dead_letters WHERE id IN"
        f" (SELECT id FROM dead_letters WHERE {where} ORDER BY id LIMIT ?)",
        (*args, limit),
    ).rowcount


def purge_by_age(conn: Connection, cutoff_ms: int, limit: int = SLICE_ROWS) -> Purged:
    """Delete parcels captured, dead letters last received and station events ended before cutoff.

    A dead letter its edge keeps re-sending stays (one row, see gateway/deadletters.py).
    """
    out = Purged()
    with transaction(conn):
        out.parcels = _delete_parcels(conn, "ts_ms < ?", (cutoff_ms,), limit)
        out.dead_letters = _delete_dead_letters(conn, cutoff_ms, limit)
        out.station_events = conn.execute(
            "DELETE FROM station_events WHERE id IN (SELECT id FROM station_events"
            " WHERE end_ms IS NOT NULL AND end_ms < ? ORDER BY id LIMIT ?)",
            (cutoff_ms, limit),
        ).rowcount
        conn.execute(
            "DELETE FROM outbound WHERE id IN (SELECT id FROM outbound"
            " WHERE published_ms IS NOT NULL AND published_ms < ? ORDER BY id LIMIT ?)",
            (cutoff_ms, limit),
        )
    return out


def purge_by_size(conn: Connection, max_bytes: int, limit: int = SLICE_ROWS) -> Purged:
    """Delete the oldest parcels (and older dead letters) until the used size fits max_bytes."""
    out = Purged()
    excess = used_bytes(conn) - max_bytes
    if excess <= 0:
        return out
    with transaction(conn):
        count = conn.execute("SELECT count(*) FROM parcels").fetchone()[0]
        if count:
            per_row = max(1, used_bytes(conn) // count)
            out.parcels = _delete_parcels(conn, "TRUE", (), min(limit, math.ceil(excess / per_row)))
        oldest = conn.execute("SELECT min(ts_ms) FROM parcels").fetchone()[0]
        out.dead_letters = _delete_dead_letters(conn, oldest, limit)
    return out


class Retention:
    """Runs retention every `retention_every_s`, one slice per step so ingest never stalls."""

    def __init__(self, gw: GatewayConfig, slice_rows: int = SLICE_ROWS) -> None:
        self.gw, self.slice_rows = gw, slice_rows
        self.next_ms = 0
        self.run_total = Purged()

    def step(self, conn: Connection, at: int) -> Purged | None:
        """Delete one slice if retention is due; return what it deleted, None when not due."""
        if at < self.next_ms:
            return None
        cap = int(self.gw.retention_max_mb * 1e6)
        done = purge_by_age(conn, at - int(self.gw.retention_days * DAY_MS), self.slice_rows)
        if cap:
            done += purge_by_size(conn, cap, self.slice_rows)
        self.run_total += done
        full = max(done.parcels, done.dead_letters, done.station_events) >= self.slice_rows
        over = bool(cap) and used_bytes(conn) > cap and (done.parcels or done.dead_letters) > 0
        if full or over:
            self.next_ms = 0  # more to delete: another slice on the next step
            return done
        self.next_ms = at + self.gw.retention_every_s * 1000
        if self.run_total != Purged():
            logger.info("retention deleted %s", self.run_total)
            if conn.dialect == "sqlite":
                conn.execute("PRAGMA incremental_vacuum")
        self.run_total = Purged()
        return done

    def run_all(self, conn: Connection, at: int) -> Purged:
        """Run retention to completion now (for the CLI and tests); return what was deleted."""
        self.next_ms, total = 0, Purged()
        while (done := self.step(conn, at)) is not None:
            total += done
        return total
