"""The store's two backends behind one small connection interface.

`gateway.database` is a SQLite path (the embedded default) or a `postgresql://` URL. Both
connections offer `execute`, `executemany` and `iterate` with `?` or `:name` placeholders,
plain `BEGIN IMMEDIATE` / `COMMIT` / `ROLLBACK`, and `dialect`; SQL that differs between
the two is chosen by `dialect` at the few places that need it.
"""

from typing import Any, Protocol

from dockscan.config import POSTGRES_SCHEMES


class Connection(Protocol):
    """What the store, the web queries and retention use of a database connection."""

    dialect: str

    def execute(self, sql: str, params: Any = ..., /) -> Any:
        """Run one statement; return a cursor (fetchone, fetchall, iteration, rowcount)."""

    def executemany(self, sql: str, rows: Any, /) -> Any:
        """Run one statement for every parameter row."""

    def close(self) -> None:
        """Close the connection."""


def is_postgres(target: str) -> bool:
    """Return whether a `gateway.database` value names a PostgreSQL server."""
    return str(target).startswith(POSTGRES_SCHEMES)


def open_store(target: str, password: str | None = None) -> Any:
    """Open the store for writing and migrate it: a SQLite file or a PostgreSQL database."""
    if is_postgres(target):
        from gateway.db import pg_schema
        from gateway.db.postgres import PgConnection

        conn = PgConnection(str(target), password)
        try:
            pg_schema.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn
    from gateway.db.sqlite import open_file

    return open_file(target)
