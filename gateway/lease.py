"""The site duty lease: one gateway at a time runs the once-per-site work.

Station staleness, seq-gap checks and retention must run once per site however many gateways
share the store. The holder renews a row in `leases` every tick; when it dies the row expires
and the next gateway to renew takes it. Time is the database's clock (PostgreSQL's
clock_timestamp(); one host with SQLite), so the gateways' own clocks may disagree.
A lease row survives a PostgreSQL restart, unlike a session advisory lock, and shows who holds
the duty and since when (`/healthz`, the board).
"""

import logging
from dataclasses import dataclass

from gateway.db import Connection
from gateway.store import transaction

logger = logging.getLogger(__name__)
SITE_DUTIES = "site-duties"
TTL_MS = 5000  # taken over this long after the holder's last renewal
NOW_SQL = {
    "postgresql": "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
    "sqlite": "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
}
RENEW_SQL = (
    "INSERT INTO leases (name, holder, since_ms, expires_ms) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
    " since_ms = CASE WHEN leases.holder = excluded.holder THEN leases.since_ms"
    " ELSE excluded.since_ms END, expires_ms = excluded.expires_ms"
    " WHERE leases.holder = excluded.holder OR leases.expires_ms < excluded.since_ms"
)


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, since when, and until when unless renewed (database clock, ms)."""

    holder: str
    since_ms: int
    expires_ms: int
    now_ms: int

    @property
    def live(self) -> bool:
        """Return whether the lease has not expired."""
        return self.expires_ms >= self.now_ms


def db_now_ms(conn: Connection) -> int:
    """Return the database's current time in epoch ms."""
    return int(conn.execute(NOW_SQL[conn.dialect]).fetchone()[0])


def holder(conn: Connection, name: str = SITE_DUTIES) -> Holder | None:
    """Return the lease's holder (expired or not), or None if it was never taken."""
    now = db_now_ms(conn)
    row = conn.execute(
        "SELECT holder, since_ms, expires_ms FROM leases WHERE name = ?", (name,)
    ).fetchone()
    return Holder(row[0], int(row[1]), int(row[2]), now) if row else None


class Lease:
    """One gateway's claim on a lease: renew() every tick, release() at a clean stop."""

    def __init__(self, holder_id: str, name: str = SITE_DUTIES, ttl_ms: int = TTL_MS) -> None:
        self.holder_id, self.name, self.ttl_ms = holder_id, name, ttl_ms
        self.held = False

    def renew(self, conn: Connection) -> bool:
        """Take the lease if it is free or expired, extend it if ours; return whether held."""
        with transaction(conn):
            now = db_now_ms(conn)
            conn.execute(RENEW_SQL, (self.name, self.holder_id, now, now + self.ttl_ms))
            row = conn.execute("SELECT holder FROM leases WHERE name = ?", (self.name,)).fetchone()
        held = row is not None and row[0] == self.holder_id
        if held != self.held:
            logger.info("%s %s the %s lease", self.holder_id, "took" if held else "lost", self.name)
        self.held = held
        return held

    def release(self, conn: Connection) -> None:
        """Give the lease up now (a clean stop), so another gateway takes it at once."""
        if not self.held:
            return
        conn.execute(
            "UPDATE leases SET expires_ms = 0 WHERE name = ? AND holder = ?",
            (self.name, self.holder_id),
        )
        self.held = False
        logger.info("%s released the %s lease", self.holder_id, self.name)
