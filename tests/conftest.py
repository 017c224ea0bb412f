"""Shared fixtures: a private Mosquitto per test that needs one, a private PostgreSQL, chromium."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser import chromium
from tests.support.broker import Mosquitto
from tests.support.postgres import Postgres
from tests.support.stores import new_store

BACKENDS = ("sqlite", "postgres")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh Mosquitto on a free loopback port; killable and restartable."""
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.kill()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """One headless chromium for every browser test of the session (Playwright allows one)."""
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Postgres]:
    """One private PostgreSQL for the session (initdb in a temporary folder, a free port)."""
    server = Postgres().start()
    yield server
    server.destroy()


@pytest.fixture(params=BACKENDS)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A `gateway.database` value for each backend: a new SQLite path or a new PG database."""
    yield from new_store(request, tmp_path / "gateway.db", request.param)
