"""PostgreSQL connections (psycopg 3) that take the store's `?` / `:name` SQL unchanged."""

import functools
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from dockscan.errors import StoreError

logger = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5
ITERATE_CHUNK = 5000
# A server that vanishes without a TCP reset (host down, cable cut) must not hang a statement for
# the kernel's minutes-long retransmission timeout: libpq gives up after about 10 s.
LINK_OPTIONS = {
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}  # fmt: skip
RETRY_OUTSIDE = ("BEGIN", "SELECT")  # statements safe to run again on a new connection
# A quoted literal or identifier (left alone), a `?`, a `:name` (not a `::` cast), or a `%`
# that is not psycopg's binary placeholder `%b` (PostgreSQL-only statements may use it).
TOKENS = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|(\?)|(?<!:):([A-Za-z_]\w*)|(%(?!b\b))""")


def redact(url: str) -> str:
    """Return a postgresql:// URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@functools.lru_cache(maxsize=512)
def translate(sql: str, with_params: bool) -> str:
    """Rewrite SQLite-style placeholders into psycopg's (`%s`, `%(name)s`, `%%`)."""
    if sql.startswith("BEGIN IMMEDIATE"):
        return "BEGIN"
    if not with_params:
        return sql

    def one(m: re.Match) -> str:
        if m.group(1):  # psycopg reads placeholders inside literals too
            return m.group(1).replace("%", "%%")
        if m.group(2):
            return "%s"
        if m.group(3):
            return f"%({m.group(3)})s"
        return "%%"

    return TOKENS.sub(one, sql)


class Row(tuple):
    """A result row read by position or by column name, like sqlite3.Row."""

    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Return the column names."""
        return list(self._index)


@functools.lru_cache(maxsize=256)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    """Return a Row subclass for one set of column names."""
    return type("Row", (Row,), {"_index": {n: i for i, n in enumerate(names)}, "__slots__": ()})


def named_rows(cursor: Any) -> Any:
    """A psycopg row factory making Row objects."""
    if cursor.description is None:
        return tuple
    cls = _row_class(tuple(c.name for c in cursor.description))
    return lambda values: cls(values)


def connect_raw(url: str, password: str | None, read_only: bool = False) -> psycopg.Connection:
    """Open one autocommit connection (explicit BEGIN/COMMIT, as with SQLite)."""
    options = "-c default_transaction_read_only=on" if read_only else ""
    try:
        return psycopg.connect(
            url, password=password, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
            options=options, application_name="dockscan", **LINK_OPTIONS,
        )  # fmt: skip
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the gateway database {redact(url)}: {exc}") from exc


class PgConnection:
    """One connection for the ingest thread; it reconnects between transactions after a loss."""

    dialect = "postgresql"

    def __init__(self, url: str, password: str | None = None, rows: Any = None) -> None:
        self.url, self.password, self.rows = url, password, rows
        self.raw = connect_raw(url, password)
        if rows is not None:
            self.raw.row_factory = rows
        self.in_transaction = False

    def _live(self, sql: str) -> psycopg.Connection:
        """Return the connection, opening a new one when the old broke outside a transaction."""
        if self.raw.broken or self.raw.closed:
            if self.in_transaction and not sql.startswith("ROLLBACK"):
                raise psycopg.OperationalError("the connection was lost during the transaction")
            self.raw.close()
            self.raw = connect_raw(self.url, self.password)
            if self.rows is not None:
                self.raw.row_factory = self.rows
            logger.info("reconnected to %s", redact(self.url))
        return self.raw

    def execute(self, sql: str, params: Any = None) -> "psycopg.Cursor | Result":
        """Run one statement; BEGIN/COMMIT/ROLLBACK track the open transaction."""
        if sql.startswith("ROLLBACK") and (self.raw.broken or self.raw.closed):
            self.in_transaction = False
            return Result([], -1)  # the server already dropped the transaction
        raw = self._live(sql)
        try:
            cur = raw.execute(translate(sql, params is not None), params)
        except psycopg.OperationalError:
            if sql.startswith(("COMMIT", "ROLLBACK")):
                self.in_transaction = False  # over either way; the next BEGIN may reconnect
                raise
            # The server went away since the last transaction (a restart, a failover): a BEGIN
            # or a read outside a transaction changed nothing, so it runs again, reconnected.
            if self.in_transaction or not raw.broken or not sql.startswith(RETRY_OUTSIDE):
                raise
            cur = self._live(sql).execute(translate(sql, params is not None), params)
        if sql.startswith("BEGIN"):
            self.in_transaction = True
        elif sql.startswith(("COMMIT", "ROLLBACK")):
            self.in_transaction = False
        return cur

    def executemany(self, sql: str, rows: Iterable[Any]) -> psycopg.Cursor:
        """Run one statement for many parameter rows (pipelined by psycopg)."""
        cur = self._live(sql).cursor()
        rows = list(rows)
        if rows:
            cur.executemany(translate(sql, True), rows)
        return cur

    def iterate(self, sql: str, params: Any = None) -> Iterator[Any]:
        """Yield a large result in chunks through a server-side cursor (bounded memory)."""
        raw = self._live(sql)
        with raw.transaction(), raw.cursor(name="dockscan_iterate") as cur:
            cur.itersize = ITERATE_CHUNK
            cur.execute(translate(sql, params is not None), params)
            yield from cur

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


class Result:
    """A fully read result, so the pooled connection goes back before the caller looks."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Any:
        """Return the first row or None."""
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        """Return every row."""
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class PooledReader:
    """Read-only access for the web threads: each statement borrows a pooled connection."""

    dialect = "postgresql"

    def __init__(
        self, url: str, password: str | None, max_size: int = 8, wait_s: float = 2.0
    ) -> None:
        self.url = url

        def configure(conn: psycopg.Connection) -> None:
            conn.row_factory = named_rows

        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, check=ConnectionPool.check_connection,
            configure=configure, timeout=wait_s,
            kwargs={"password": password, "autocommit": True,
                    "options": "-c default_transaction_read_only=on",
                    "connect_timeout": CONNECT_TIMEOUT_S, "application_name": "dockscan-web",
                    **LINK_OPTIONS},
        )  # fmt: skip
        self.pool.open(wait=False)

    def execute(self, sql: str, params: Any = None) -> Result:
        """Run one read statement on a pooled connection and return its rows."""
        try:
            with self.pool.connection() as conn:
                cur = conn.execute(translate(sql, params is not None), params)
                rows = cur.fetchall() if cur.description is not None else []
                return Result(rows, cur.rowcount)
        except PoolTimeout as exc:
            raise StoreError(f"the gateway database {redact(self.url)} is unreachable") from exc

    def iterate(self, sql: str, params: Any = None) -> Iterator[Any]:
        """Yield a large result through a server-side cursor on one pooled connection."""
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="dockscan_iterate") as cur,
        ):
            cur.itersize = ITERATE_CHUNK
            cur.execute(translate(sql, params is not None), params)
            yield from cur

    def close(self) -> None:
        """Close the pool and its connections."""
        self.pool.close()
