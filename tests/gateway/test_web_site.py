"""The site's gateways on /healthz, /api/site, /metrics and the board: leader, heartbeats."""

import re

from flask.testing import FlaskClient

from gateway.lease import Lease
from gateway.web import queries
from tests.gateway.conftest import WebSite
from tests.gateway.test_web_metrics import _samples
from tests.gateway.web_data import (
    HOSTILE,
    insert_parcel,
    make_event,
    now_ms,
    set_counters,
    set_state,
)
from tests.support.broker import wait_for


def _site_line(client: FlaskClient) -> str:
    """Return the board's site status line (leader and gateways)."""
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'<p class="site-status">.*?</p>', html, re.S)
    assert match, "no site status on the board"
    return match[0]


def test_healthz_names_every_check_and_gateway(web_client: FlaskClient) -> None:
    resp = web_client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json["checks"] == {
        "database": "ok", "store": "ok", "broker": "connected", "ingest": "ok", "leader": "none",
    }  # fmt: skip
    gateways = resp.json["gateways"]
    assert list(gateways) == ["gw-1"]
    assert 0 <= gateways["gw-1"]["heartbeat_age_s"] < 10
    assert gateways["gw-1"]["fresh"] is True and gateways["gw-1"]["broker"] == "connected"


def test_a_killed_gateways_stale_row_does_not_count_as_connected(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    # gw-2 was SIGKILLed a minute ago: its row still says connected. gw-1 runs, disconnected.
    set_counters(web_site.conn, {"broker_connected": 1, "heartbeat_ms": now_ms() - 60_000}, "gw-2")
    set_counters(web_site.conn, {"broker_connected": 0, "heartbeat_ms": now_ms()}, "gw-1")
    resp = web_client.get("/healthz")
    assert resp.status_code == 503 and resp.json["status"] == "failing"
    assert resp.json["checks"]["broker"] == "disconnected"
    assert resp.json["checks"]["ingest"] == "ok"  # gw-1's heartbeat is fresh
    gw2 = resp.json["gateways"]["gw-2"]
    assert gw2["fresh"] is False and gw2["broker"] == "disconnected"
    assert 59 <= gw2["heartbeat_age_s"] < 70
    assert resp.json["gateways"]["gw-1"]["broker"] == "disconnected"
    m = _samples(web_client.get("/metrics").get_data(as_text=True))
    assert m["dockscan_broker_connected"] == 0
    assert m['dockscan_gateway_broker_connected{gateway="gw-2"}'] == 0
    assert m['dockscan_gateway_heartbeat_age_seconds{gateway="gw-2"}'] >= 59
    assert 'data-gateway="gw-2" data-broker="disconnected"' in _site_line(web_client)

    set_counters(web_site.conn, {"broker_connected": 1}, "gw-1")  # gw-1 reconnects
    resp = web_client.get("/healthz")
    assert resp.status_code == 200 and resp.json["checks"]["broker"] == "connected"
    m = _samples(web_client.get("/metrics").get_data(as_text=True))
    assert m["dockscan_broker_connected"] == 1


def test_no_fresh_heartbeat_is_an_ingest_failure(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    set_counters(web_site.conn, {"heartbeat_ms": now_ms() - 45_000}, "gw-1")
    set_counters(web_site.conn, {"broker_connected": 1, "heartbeat_ms": now_ms() - 30_000}, "gw-2")
    resp = web_client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json["checks"]["ingest"] == "heartbeat 30 s old (limit 10.0 s)"  # the freshest
    assert resp.json["checks"]["broker"] == "disconnected"


def test_leader_shows_while_the_lease_is_held_then_expired(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    assert 'data-leader="none">leader: none</span>' in _site_line(web_client)
    lease = Lease("gw-2", ttl_ms=800)
    assert lease.renew(web_site.conn)
    assert web_client.get("/healthz").json["checks"]["leader"] == "gw-2"
    body = web_client.get("/api/site").json
    assert body["site"] == "hub" and body["leader"] == "gw-2"
    assert body["lease"]["holder"] == "gw-2" and body["lease"]["live"] is True
    assert body["lease"]["expires_ms"] - body["lease"]["since_ms"] == 800
    assert body["gateways"]["gw-1"]["broker"] == "connected"
    assert '<span class="leader" data-leader="gw-2">leader: gw-2</span>' in _site_line(web_client)
    m = _samples(web_client.get("/metrics").get_data(as_text=True))
    assert m['dockscan_site_leader{gateway="gw-2"}'] == 1

    wait_for(lambda: web_client.get("/api/site").json["leader"] == "expired", 5, what="expiry")
    assert web_client.get("/healthz").json["checks"]["leader"] == "expired"
    assert web_client.get("/api/site").json["lease"]["live"] is False
    line = _site_line(web_client)
    assert 'data-leader="expired">leader: expired (last gw-2, ' in line
    m = _samples(web_client.get("/metrics").get_data(as_text=True))
    assert not [k for k in m if k.startswith("dockscan_site_leader{")]

    assert Lease("gw-1").renew(web_site.conn)  # the next gateway takes over
    assert web_client.get("/healthz").json["checks"]["leader"] == "gw-1"
    assert 'data-leader="gw-1">leader: gw-1</span>' in _site_line(web_client)


def test_hostile_gateway_and_holder_ids_are_text(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    set_counters(web_site.conn, {"broker_connected": 1, "heartbeat_ms": now_ms()}, HOSTILE)
    assert Lease(HOSTILE).renew(web_site.conn)
    line = _site_line(web_client)
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    assert f'data-leader="{escaped}">leader: {escaped}</span>' in line
    assert f'data-gateway="{escaped}"' in line and "<img" not in line
    assert "<img" not in web_client.get("/").get_data(as_text=True)
    health = web_client.get("/healthz").json
    assert health["checks"]["leader"] == HOSTILE and health["gateways"][HOSTILE]["fresh"] is True
    assert web_client.get("/api/site").json["lease"]["holder"] == HOSTILE
    m = _samples(web_client.get("/metrics").get_data(as_text=True))
    assert m[f'dockscan_gateway_broker_connected{{gateway="{HOSTILE}"}}'] == 1


def test_change_marker_sees_the_ingest_other_writers_and_stations(web_site: WebSite) -> None:
    conn = web_site.conn
    marks = [queries.change_marker(conn)]
    set_counters(conn, {"events_ingested_total": 11})  # the ingest counts what it stores
    marks.append(queries.change_marker(conn))
    insert_parcel(conn, make_event("st-a1", 400, now_ms()))  # another writer: no counter
    marks.append(queries.change_marker(conn))
    set_state(conn, "st-b1", "online")
    marks.append(queries.change_marker(conn))
    assert len(set(marks)) == 4, marks
    assert queries.change_marker(conn) == marks[-1]  # nothing changed: the same marker
