"""Store outages: retry when due, and never block the ingest loop on a dead database meanwhile.

While the store fails, the ingest thread keeps serving paho (keepalive, the broker's window)
and holds its batch unacknowledged; attempts back off from 0.25 s to 5 s, one log line each.
Once the PostgreSQL connection is lost, its next use reconnects on the ingest thread, and a
connect to an unreachable host waits out the 5 s connect timeout, longer than paho may go
without a PINGREQ at a short keepalive. So a probe thread tries the connection first, and the
ingest thread uses the store again only after a probe got through.
"""

import logging
import math
import sqlite3
import threading
import time
from typing import Any

import psycopg

from dockscan.errors import StoreError
from gateway.db import is_postgres

logger = logging.getLogger(__name__)
FIRST_S = 0.25
MAX_S = 5.0
PROBE_POLL_S = 0.05  # how often the loop looks whether a running probe has finished
STORE_ERRORS = (psycopg.Error, sqlite3.Error, StoreError, OSError)


def one_line(exc: BaseException) -> str:
    """Return an exception as one short line (psycopg messages carry DETAIL lines)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def transient(exc: BaseException) -> bool:
    """Return whether a failure to open the store may go away by itself (server down, starting)."""
    return isinstance(exc, psycopg.OperationalError) or isinstance(
        exc.__cause__, psycopg.OperationalError
    )


def connection_lost(conn: Any, exc: BaseException) -> bool:
    """Return whether a PostgreSQL store connection may be gone (its next use would reconnect).

    An operational error counts too: psycopg does not always mark the connection broken at
    once (a failure in pipeline mode), and a probe too many costs one quick connect.
    """
    raw = getattr(conn, "raw", None)
    if raw is not None and (raw.broken or raw.closed):
        return True
    return isinstance(exc, (psycopg.OperationalError, StoreError))


class Probe(threading.Thread):
    """One connection attempt to PostgreSQL off the ingest thread; `error` None when it worked."""

    def __init__(self, url: str, password: str | None) -> None:
        super().__init__(name="store-probe", daemon=True)
        self.url, self.password = url, password
        self.error: str | None = "not finished"

    def run(self) -> None:
        """Connect and close at once, noting the error if any."""
        from gateway.db.postgres import connect_raw

        try:
            connect_raw(self.url, self.password).close()
            self.error = None
        except Exception as exc:
            cause = exc.__cause__ or exc
            self.error = one_line(cause)


class StoreGuard:
    """Says whether the ingest thread may use the store now, and schedules the retries."""

    def __init__(self, target: str, password: str | None) -> None:
        self.target, self.password = target, password
        self.postgres = is_postgres(target)
        self.failures = 0
        self.retry_at = 0.0
        self.since = 0.0  # when the outage began (monotonic)
        self.lost = False  # the connection is gone: probe before the next use
        self.probe: Probe | None = None

    @property
    def down(self) -> bool:
        """Return whether the last store operation failed."""
        return self.failures > 0

    def ready(self) -> bool:
        """Return whether the store may be used now; starts or reads a probe when one is due."""
        if not self.failures:
            return True
        now = time.monotonic()
        if self.probe is not None:
            if self.probe.is_alive():
                return False
            error, self.probe = self.probe.error, None
            if error is not None:
                self._schedule(now, f"PostgreSQL still unreachable ({error})")
                return False
            self.lost = False
        if now < self.retry_at:
            return False
        if self.lost:
            self.probe = Probe(self.target, self.password)
            self.probe.start()
            return False
        return True

    def wait_s(self) -> float:
        """Return how long the loop may sit in select before ready() could change."""
        if not self.failures:
            return math.inf
        if self.probe is not None:
            return PROBE_POLL_S
        return max(0.0, self.retry_at - time.monotonic())

    def failed(self, what: str, exc: BaseException, conn: Any = None) -> None:
        """Note a failed store operation (one log line) and schedule the next attempt."""
        self.lost = self.postgres and connection_lost(conn, exc)
        if not isinstance(exc, STORE_ERRORS) and not self.failures:
            logger.error("unexpected error in %s", what, exc_info=exc)
        self._schedule(time.monotonic(), f"{what} failed ({one_line(exc)})")

    def _schedule(self, now: float, reason: str) -> None:
        """Back off: the next attempt waits 0.25 s, doubling to 5 s."""
        if not self.failures:
            self.since = now
        delay = min(MAX_S, FIRST_S * 2**self.failures)
        self.failures += 1
        self.retry_at = now + delay
        logger.warning("%s; retrying in %.2f s", reason, delay)

    def succeeded(self) -> None:
        """Note that the store works again."""
        if self.failures:
            logger.info(
                "the store works again after %.1f s (%d failed attempts)",
                time.monotonic() - self.since, self.failures,
            )  # fmt: skip
        self.failures, self.lost = 0, False
