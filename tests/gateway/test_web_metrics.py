"""/metrics in the Prometheus text format and the /healthz probe."""

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.conftest import WebSite, site_config
from tests.gateway.web_data import now_ms, set_counters

SAMPLE = re.compile(r'^dockscan_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$')


def _samples(text: str) -> dict[str, float]:
    """Parse sample lines into {name{labels}: value}, checking every line's syntax."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) dockscan_[a-z_]+ ", line), line
            continue
        assert SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def test_metrics_expose_counters_tables_and_states(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    resp = web_client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    m = _samples(resp.get_data(as_text=True))
    assert m["dockscan_events_ingested_total"] == 10
    assert m["dockscan_events_duplicate_total"] == 2
    assert m["dockscan_dead_letters_total"] == 2
    assert m['dockscan_table_rows{table="parcels"}'] == len(web_site.events)
    assert m['dockscan_table_rows{table="dead_letters"}'] == 2
    assert m['dockscan_station_state{station="st-b1",state="offline"}'] == 1
    assert m['dockscan_station_state{station="st-b1",state="online"}'] == 0
    assert m['dockscan_station_state{station="st-new",state="unknown"}'] == 1
    assert m['dockscan_station_outbox_depth{station="st-a1"}'] == 3
    assert m["dockscan_database_size_bytes"] == store_size(web_site) > 0
    assert m["dockscan_broker_connected"] == 1
    assert m["dockscan_verdict_queue_depth"] == 0


def test_metrics_count_the_parcels_waiting_for_a_verdict(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    web_site.conn.execute(
        "INSERT INTO verdict_queue (parcels, sightings) VALUES (2, ?)",
        ('[["e1","RR123456785CN","st-a1",1,null],["e2","RR000000014CN","st-a1",2,1.5]]',),
    )
    m = _samples(web_client.get("/metrics").get_data(as_text=True))
    assert m["dockscan_verdict_queue_depth"] == 2


def store_size(site: WebSite) -> int:
    """Return the store's size as its own tools see it: the files, or pg_database_size."""
    if site.postgres:
        sql = "SELECT pg_database_size(current_database())"
        return site.conn.execute(sql).fetchone()[0]
    return sum(Path(site.target + s).stat().st_size for s in ("", "-wal"))


def test_large_values_are_exact(web_client: FlaskClient, web_site: WebSite) -> None:
    set_counters(web_site.conn, {"events_ingested_total": 123_456_789, "batches_total": 0.25})
    text = web_client.get("/metrics").get_data(as_text=True)
    assert "\ndockscan_events_ingested_total 123456789\n" in text  # not 1.23457e+08
    assert "\ndockscan_batches_total 0.25\n" in text


def test_latency_histogram_is_cumulative(web_client: FlaskClient) -> None:
    m = _samples(web_client.get("/metrics").get_data(as_text=True))
    buckets = [v for k, v in m.items() if k.startswith("dockscan_ingest_latency_seconds_bucket")]
    assert len(buckets) == 12 and buckets == sorted(buckets)
    assert m['dockscan_ingest_latency_seconds_bucket{le="0.05"}'] == 9
    assert m['dockscan_ingest_latency_seconds_bucket{le="+Inf"}'] == 10
    assert m["dockscan_ingest_latency_seconds_count"] == 10


def test_healthz_ok_then_failing(web_client: FlaskClient, web_site: WebSite) -> None:
    resp = web_client.get("/healthz")
    assert resp.status_code == 200 and resp.json["status"] == "ok"
    set_counters(web_site.conn, {"broker_connected": 0})
    resp = web_client.get("/healthz")
    assert resp.status_code == 503 and resp.json["checks"]["broker"] == "disconnected"
    set_counters(web_site.conn, {"broker_connected": 1, "heartbeat_ms": now_ms() - 120_000})
    resp = web_client.get("/healthz")
    assert resp.status_code == 503 and "heartbeat" in resp.json["checks"]["ingest"]


def test_missing_sqlite_file_answers_503_with_a_reason(tmp_path: Path) -> None:
    missing = tmp_path / "absent.db"
    app = create_app(site_config(missing), {"TESTING": True})
    client = app.test_client()
    resp = client.get("/healthz")
    reason = f"cannot open the gateway database {missing}: unable to open database file"
    assert resp.status_code == 503 and resp.json["checks"]["database"] == f"unreadable: {reason}"
    assert resp.json["checks"]["store"] == f"down: {reason}" and resp.json["gateways"] == {}
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "<h1>Station board</h1>" in html
    assert f'role="alert">store down: {reason} (this page reloads every 5 s)</p>' in html
    assert '<meta http-equiv="refresh" content="5">' in html
    assert client.get("/api/stations").json["error"].startswith("the gateway database")
    assert not missing.exists()  # the UI never creates the store
    shutdown(app)


def test_ui_cannot_write_the_store(web_app: Flask, web_site: WebSite) -> None:
    from gateway.web import web

    refusal = "read-only transaction" if web_site.postgres else "readonly database"
    with web_app.app_context(), pytest.raises(Exception, match=refusal):
        web().db.conn().execute("DELETE FROM parcels")
    assert web_site.conn.execute("SELECT count(*) FROM parcels").fetchone()[0] == len(
        web_site.events
    )


def test_healthz_rejects_a_heartbeat_from_the_future(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    set_counters(web_site.conn, {"heartbeat_ms": now_ms() + 3_600_000})
    assert web_client.get("/healthz").status_code == 503
