"""A fresh store for a test on either backend: a SQLite path or a new PostgreSQL database."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import Postgres


def new_store(request: pytest.FixtureRequest, path: Path, backend: str) -> Iterator[str]:
    """Yield a fresh `gateway.database` value: the SQLite `path`, or a new PG database."""
    if backend == "sqlite":
        yield str(path)
        return
    server: Postgres = request.getfixturevalue("pg_server")
    name = server.create_database()
    yield server.url(name, password=True)
    server.drop_database(name)
