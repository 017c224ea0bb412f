"""SQLite connections: the embedded default store, with what the shared SQL expects of it."""

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dockscan.errors import StoreError

BUSY_TIMEOUT_MS = 10_000


def _greatest(*values: Any) -> Any:
    """SQL greatest(): the largest argument, ignoring NULLs (as PostgreSQL does)."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _least(*values: Any) -> Any:
    """SQL least(): the smallest argument, ignoring NULLs (as PostgreSQL does)."""
    present = [v for v in values if v is not None]
    return min(present) if present else None


class SqliteConnection(sqlite3.Connection):
    """A sqlite3 connection that knows its dialect and has greatest()/least()."""

    dialect = "sqlite"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.create_function("greatest", -1, _greatest, deterministic=True)
        self.create_function("least", -1, _least, deterministic=True)

    def iterate(self, sql: str, params: Any = ()) -> Iterator[Any]:
        """Yield a large result row by row (SQLite cursors are lazy already)."""
        yield from self.execute(sql, params)


def connect(path: str, **kwargs: Any) -> SqliteConnection:
    """Open a SQLite file (or URI) as a SqliteConnection in autocommit mode."""
    kwargs.setdefault("isolation_level", None)
    return sqlite3.connect(path, factory=SqliteConnection, **kwargs)  # type: ignore[return-value]


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a file to WAL, retrying while another process opens the same new file.

    Changing the journal mode returns "database is locked" at once, without the busy
    handler, when two connections race on a fresh file; the wait here stands in for it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("the file would not switch to WAL journal mode")
        time.sleep(0.01)


def open_file(path: str | Path) -> SqliteConnection:
    """Open (creating if needed) a store file in WAL mode and migrate it to the current schema."""
    from gateway.schema import migrate

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
        _enable_wal(conn)
        # FULL: a commit is on disk before its ack leaves, so a power cut cannot roll back
        # events the stations have already deleted from their outboxes (NORMAL could).
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the gateway database {path}: {exc}") from exc
    return conn
