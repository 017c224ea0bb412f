"""Read-only access to the gateway store for the web threads (SQLite file or PostgreSQL)."""

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from dockscan.errors import StoreError
from gateway.db import is_postgres
from gateway.db.postgres import PooledReader, redact
from gateway.db.sqlite import SqliteConnection, connect

logger = logging.getLogger(__name__)
PG_SIZE_SQL = "SELECT pg_database_size(current_database())"
# What a failed read of the store raises when the store cannot be reached or opened.
STORE_DOWN = (StoreError, sqlite3.Error, psycopg.OperationalError)
PROBE_EVERY_S = 1.0  # while the server is down, look again at most this often
PROBE_TIMEOUT_S = 2  # libpq's smallest connect_timeout


def problem(exc: BaseException) -> str:
    """Return an error's message on one line, short enough for a banner or a probe answer."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:399] + "…"


class RecoveringReader:
    """The web's PooledReader: fails fast while the server is down, renewed when it is back."""

    # After a failed read one direct connection (the probe) says whether the server answers.
    # If not, the store is down: reads fail at once with the probe's reason (instead of each
    # waiting out the pool's 5 s timeout) and the probe runs again at most every PROBE_EVERY_S.
    # When it answers, the old pool (stale connections, reconnects in exponential backoff that
    # took 18 s after a 40 s outage) is closed and a fresh one serves the read.

    dialect = "postgresql"

    def __init__(self, url: str, password: str | None) -> None:
        self.url, self.password = url, password
        self._lock = threading.Lock()
        self._pool = PooledReader(url, password)
        self._down: str | None = None  # the probe's reason while the server does not answer
        self._probed = 0.0

    @property
    def down(self) -> str | None:
        """Return why the server did not answer the last probe (None: it did, or no probe)."""
        return self._down

    def _probe(self) -> str | None:
        """Connect once, directly; return None when the server answers, else the reason."""
        self._probed = time.monotonic()
        try:
            psycopg.connect(
                self.url, password=self.password, connect_timeout=PROBE_TIMEOUT_S,
                application_name="dockscan-web-probe",
            ).close()  # fmt: skip
        except psycopg.Error as exc:
            return problem(exc)
        return None

    def _replace(self) -> None:
        """Serve from a fresh pool; close the old one in the background (caller holds _lock)."""
        old, self._pool, self._down = self._pool, PooledReader(self.url, self.password), None
        threading.Thread(target=old.close, name="close-stale-pool", daemon=True).start()
        logger.info("the gateway database %s answers again; new connection pool", redact(self.url))

    def _unreachable(self) -> StoreError:
        """Return the error a read gets while the server is down."""
        return StoreError(f"the gateway database {redact(self.url)} is unreachable: {self._down}")

    def _current(self) -> PooledReader:
        """Return the pool to read from; while the server is down, probe or fail at once."""
        if self._down is None:
            return self._pool
        with self._lock:
            if self._down is not None:
                if time.monotonic() - self._probed < PROBE_EVERY_S:
                    raise self._unreachable()
                reason = self._probe()
                if reason is not None:
                    self._down = reason
                    raise self._unreachable()
                self._replace()
            return self._pool

    def _after_failure(self, pool: PooledReader) -> bool:
        """Probe after a failed read: True when a fresh pool is ready to try once more."""
        with self._lock:
            if self._pool is not pool:
                return True  # another thread has replaced it already
            reason = self._probe()
            if reason is None:
                self._replace()
                return True
            if self._down is None:
                logger.warning("the gateway database %s is down: %s", redact(self.url), reason)
            self._down = reason
            return False

    def execute(self, sql: str, params: Any = None) -> Any:
        """Run one read; after a failure retry once on a fresh pool if the server answers."""
        pool = self._current()
        try:
            return pool.execute(sql, params)
        except (StoreError, psycopg.OperationalError) as exc:
            if not self._after_failure(pool):
                raise self._unreachable() from exc
        return self._pool.execute(sql, params)

    def iterate(self, sql: str, params: Any = None) -> Iterator[Any]:
        """Yield a large result through the current pool."""
        return self._current().iterate(sql, params)

    def close(self) -> None:
        """Close the current pool."""
        with self._lock:
            self._pool.close()


class Database:
    """SQLite: one long-lived query_only connection per thread; PostgreSQL: a shared pool."""

    def __init__(
        self, target: str | Path, busy_timeout_ms: int = 2000, password: str | None = None
    ) -> None:
        self.postgres = is_postgres(str(target))
        self.path = Path() if self.postgres else Path(target).resolve()
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[sqlite3.Connection] = []
        self._pool: RecoveringReader | None = None
        if self.postgres:
            self._pool = RecoveringReader(str(target), password)

    @property
    def dialect(self) -> str:
        """Return the store's SQL dialect."""
        return "postgresql" if self.postgres else "sqlite"

    def conn(self) -> Any:
        """Return this thread's connection (SQLite, opened on first use) or the shared pool."""
        if self._pool is not None:
            return self._pool
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def _connect(self) -> SqliteConnection:
        """Open the existing database file without creating it, and forbid writes."""
        uri = f"file:{quote(str(self.path))}?mode=rw"
        try:
            conn = connect(uri, uri=True, check_same_thread=False, timeout=5)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the gateway database {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def size_bytes(self) -> int:
        """Return the store's size on disk (SQLite: the file plus its WAL)."""
        if self._pool is not None:
            return int(self._pool.execute(PG_SIZE_SQL).fetchone()[0])
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    def close_all(self) -> None:
        """Close every connection this object opened (at shutdown or test teardown)."""
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
