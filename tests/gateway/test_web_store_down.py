"""PostgreSQL stopped or killed under a running UI: a clear 503, a banner, and recovery."""

import http.client
import re
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.conftest import LiveServer, WebSite, serving
from tests.support.broker import wait_for
from tests.support.postgres import PASSWORD, Postgres

# The seed's heartbeat must not go stale while the test takes the server down and up again.
SETTINGS = {"TESTING": True, "STORE_DOWN_REFRESH_S": 1, "HEALTH_MAX_HEARTBEAT_S": 3600}
BANNER = re.compile(
    r'<p id="store-banner" class="banner store-down" role="alert">'
    r"store down: (.+?) \(this page reloads every 1 s\)</p>"
)


@pytest.fixture
def app(pg_site: WebSite) -> Iterator[Flask]:
    """The app over the seed on the private PostgreSQL."""
    app = create_app(pg_site.cfg, SETTINGS)
    yield app
    shutdown(app)


def _check_up(client: FlaskClient) -> None:
    """The store answers: health ok, the board lists the stations without a banner."""
    resp = client.get("/healthz")
    assert resp.status_code == 200, resp.json
    assert resp.json["checks"]["store"] == "ok" and resp.json["checks"]["database"] == "ok"
    html = client.get("/").get_data(as_text=True)
    assert 'data-station="st-a1"' in html and not BANNER.search(html)
    assert '<p id="store-banner" class="banner store-down" role="alert" hidden></p>' in html
    assert 'http-equiv="refresh"' not in html
    assert client.get("/api/site").json["gateways"]["gw-1"]["broker"] == "connected"


def _check_down(client: FlaskClient, port: int) -> None:
    """The store is down: every answer says so, the board keeps its layout with a banner."""
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.json["status"] == "failing"
    checks = resp.json["checks"]
    where = f"postgresql://dockscan:***@127.0.0.1:{port}/"
    assert checks["store"].startswith(f"down: the gateway database {where}"), checks
    assert "is unreachable: " in checks["store"] and "Connection refused" in checks["store"]
    assert checks["database"] == "unreadable: " + checks["store"].removeprefix("down: ")
    assert checks["leader"] == checks["broker"] == checks["ingest"] == "unknown: the store is down"
    assert resp.json["gateways"] == {}
    assert PASSWORD not in resp.get_data(as_text=True)

    started = time.monotonic()
    board = client.get("/")
    assert time.monotonic() - started < 3  # known down: no wait for the pool's 5 s timeout
    assert board.status_code == 503 and board.headers["Retry-After"] == "1"
    html = board.get_data(as_text=True)
    assert "<h1>Station board</h1>" in html and 'id="board-filters"' in html
    assert '<meta http-equiv="refresh" content="1">' in html
    banner = BANNER.search(html)
    assert banner and banner[1].startswith(f"the gateway database {where}"), html
    assert "data-station=" not in html
    assert '<option value="D2"' in html  # the dock filter still offers the configured docks
    assert PASSWORD not in html

    live = client.get("/board/live")
    assert live.status_code == 503 and live.mimetype == "text/plain"
    assert live.get_data(as_text=True).startswith(f"store down: the gateway database {where}")
    api = client.get("/api/stations")
    assert api.status_code == 503
    assert api.json["error"].startswith("the gateway database is not available: ")
    assert client.get("/api/site").status_code == 503
    assert client.get("/stations/st-a1").status_code == 503


@pytest.mark.parametrize(("outage", "times"), [("stop", 2), ("kill", 1)])
def test_store_down_then_back_without_restarting_the_app(
    app: Flask, own_pg: Postgres, outage: str, times: int
) -> None:
    client = app.test_client()
    _check_up(client)
    for _ in range(times):  # stopped twice: the replaced pool recovers as the first one did
        getattr(own_pg, outage)()
        _check_down(client, own_pg.port)
        own_pg.restart()
        started = time.monotonic()
        wait_for(lambda: client.get("/healthz").status_code == 200, 10, what="recovery")
        assert time.monotonic() - started < 3  # within a probe or two, not the pool's backoff
        _check_up(client)


def _next_event(resp: http.client.HTTPResponse, deadline: float) -> tuple[str, str]:
    """Read SSE lines until an event arrives; return its name and data."""
    name = ""
    while time.monotonic() < deadline:
        line = resp.fp.readline().decode()
        if line.startswith("event: "):
            name = line[7:].strip()
        elif line.startswith("data: ") and name:
            return name, line[6:].strip()
    raise TimeoutError("no server-sent event")


def _stream(live: LiveServer) -> Callable[[float], tuple[str, str]]:
    """Open the board's event stream; return a reader of its next event."""
    conn = http.client.HTTPConnection(live.url.removeprefix("http://"), timeout=15)
    conn.request("GET", "/events/board")
    resp = conn.getresponse()
    assert resp.status == 200
    return lambda within: _next_event(resp, time.monotonic() + within)


def test_board_stream_says_store_down_and_back(pg_site: WebSite, own_pg: Postgres) -> None:
    with serving(pg_site.cfg, SETTINGS) as live:
        read = _stream(live)
        assert read(5) == ("board", "10")  # events_ingested_total of the seed
        own_pg.stop()
        name, data = read(10)
        assert name == "store" and data.startswith("down: the gateway database postgresql://")
        assert "Connection refused" in data and PASSWORD not in data
        own_pg.restart()
        assert read(10) == ("board", "10")
