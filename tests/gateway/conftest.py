"""Fixtures for the web UI tests: a seeded store on each backend, the app, waitress, chromium."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page

from dockscan.config import SiteConfig, parse_config
from dockscan.events import ParcelEvent
from gateway.store import Store, open_db
from gateway.web import create_app
from gateway.web.server import build, shutdown, stop_server
from tests.gateway.web_data import SEED_STATIONS, create_db, seed_site
from tests.support.broker import free_port, wait_port
from tests.support.postgres import Postgres

OPERATOR = "op-token-0123456789"
VIEWER = "view-token-0123456789"


@dataclass
class WebSite:
    """A seeded store (a SQLite path or a PostgreSQL URL), a writing connection, the config."""

    target: str
    conn: Any  # gateway.db connection: `?` placeholders, `.dialect`
    cfg: SiteConfig
    events: list[ParcelEvent]

    @property
    def postgres(self) -> bool:
        """Return whether the store is PostgreSQL."""
        return self.conn.dialect == "postgresql"


def site_config(db: str | Path, broker_url: str = "mqtt://127.0.0.1:1", extra: dict | None = None):
    """Return a site config (Europe/Berlin) naming the seeded stations plus one never seen."""
    stations = [{"id": s, "dock": d} for s, d in SEED_STATIONS.items()]
    stations.append({"id": "st-new", "dock": "D2"})
    data = {
        "site": {"id": "hub", "timezone": "Europe/Berlin"},
        "broker": {"url": broker_url},
        "gateway": {"database": str(db), **(extra or {})},
        "stations": stations,
    }
    return parse_config(data)


def seeded(target: str) -> WebSite:
    """Create, migrate and fill a store with the standard seed."""
    conn = create_db(target)
    return WebSite(target, conn, site_config(target), seed_site(conn))


@pytest.fixture
def web_site(store_target: str) -> Iterator[WebSite]:
    """A real store filled with the standard seed, once on SQLite and once on PostgreSQL."""
    site = seeded(store_target)
    yield site
    site.conn.close()


@pytest.fixture
def own_pg() -> Iterator[Postgres]:
    """A private PostgreSQL to stop, kill and restart (the session's shared one stays up)."""
    server = Postgres().start()
    yield server
    server.destroy()


@pytest.fixture
def pg_site(own_pg: Postgres) -> Iterator[WebSite]:
    """The standard seed in a database on the private PostgreSQL."""
    site = seeded(own_pg.url(own_pg.create_database(), password=True))
    yield site
    site.conn.close()


@pytest.fixture
def web_app(web_site: WebSite) -> Iterator[Flask]:
    """The app over the seeded store, with viewer and operator tokens unset (open viewing)."""
    app = create_app(web_site.cfg, {"TESTING": True, "OPERATOR_TOKEN": OPERATOR})
    yield app
    shutdown(app)


@pytest.fixture
def web_client(web_app: Flask) -> FlaskClient:
    """A test client for the app."""
    return web_app.test_client()


@dataclass
class LiveServer:
    """A waitress server running the app in a thread."""

    url: str
    app: Flask


@contextmanager
def serving(cfg: SiteConfig, extra: dict | None = None) -> Iterator[LiveServer]:
    """Run the app for cfg under waitress on a free loopback port, in a thread."""
    port = free_port()
    settings = {
        "OPERATOR_TOKEN": OPERATOR,
        "SSE_POLL_S": 0.2,
        "SSE_MAX_STREAMS": 3,
        **(extra or {}),
    }
    app, server = build(cfg, f"127.0.0.1:{port}", settings)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    wait_port(port)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app)
    finally:
        stop_server(server, thread)
        shutdown(app)


@pytest.fixture
def live_server(web_site: WebSite) -> Iterator[LiveServer]:
    """The app over the seeded store under waitress (its broker address answers nothing)."""
    with serving(web_site.cfg) as live:
        yield live


@pytest.fixture
def page(chromium_browser: Browser) -> Iterator[Page]:
    """A fresh browser page (own cookies) that records every dialog it is shown."""
    context = chromium_browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store file, closed after the test."""
    s = Store(tmp_path / "gw.db")
    yield s
    s.close()


@pytest.fixture
def conn(store_target: str) -> Iterator[Any]:
    """An open, migrated store on each backend."""
    c = open_db(store_target)
    yield c
    c.close()


@pytest.fixture
def pg_url(pg_server: Postgres) -> Iterator[str]:
    """A new empty database on the session server, its URL with the password."""
    name = pg_server.create_database()
    yield pg_server.url(name, password=True)
    pg_server.drop_database(name)
