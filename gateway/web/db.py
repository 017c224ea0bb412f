"""Read-only access to the gateway store: one long-lived SQLite connection per worker thread."""

import contextlib
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

from dockscan.errors import StoreError


class Database:
    """Opens the store once per thread (query_only) and reuses it for every request."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = 2000) -> None:
        self.path = Path(path).resolve()
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[sqlite3.Connection] = []

    def conn(self) -> sqlite3.Connection:
        """Return this thread's connection, opening it on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        """Open the existing database file without creating it, and forbid writes."""
        uri = f"file:{quote(str(self.path))}?mode=rw"
        try:
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=5
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the gateway database {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def size_bytes(self) -> int:
        """Return the size of the database file plus its WAL on disk."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    def close_all(self) -> None:
        """Close every connection this object opened (at shutdown or test teardown)."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
