"""The JSON API over a real seeded store."""

from flask.testing import FlaskClient

from tests.gateway.conftest import WebSite
from tests.gateway.web_data import HOSTILE


def test_stations_list(web_client: FlaskClient) -> None:
    stations = web_client.get("/api/stations").json
    assert isinstance(stations, list)
    by_id = {s["id"]: s for s in stations}
    assert set(by_id) == {"st-a1", "st-a2", "st-b1", "st-new"}
    assert by_id["st-b1"]["state"] == "offline" and by_id["st-new"]["state"] == "unknown"
    assert by_id["st-a1"]["outbox_depth"] == 3
    assert by_id["st-a2"]["faults"][0]["id"] == "cam1"


def test_one_station_with_hourly_counts(web_client: FlaskClient, web_site: WebSite) -> None:
    body = web_client.get("/api/stations/st-a1").json
    assert body["id"] == "st-a1" and body["state"] == "online"
    start = body["hourly_24h"]["start_ms"]
    counts = body["hourly_24h"]["counts"]
    expected = sum(
        e.station == "st-a1" and e.ts.timestamp() * 1000 >= start for e in web_site.events
    )
    assert len(counts) == 24 and sum(counts) == expected
    resp = web_client.get("/api/stations/nope")
    assert resp.status_code == 404 and "nope" in resp.json["error"]


def test_parcels_cursor_pagination(web_client: FlaskClient, web_site: WebSite) -> None:
    seen, cursor = [], ""
    while True:
        body = web_client.get(f"/api/parcels?limit=4&cursor={cursor}").json
        seen += [p["event_id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    expected = sorted(web_site.events, key=lambda e: (e.ts, e.event_id), reverse=True)
    assert seen == [e.event_id for e in expected]


def test_parcels_filters(web_client: FlaskClient, web_site: WebSite) -> None:
    body = web_client.get("/api/parcels?barcode=RR3&match=prefix").json
    assert len(body["items"]) == 1 and body["items"][0]["station"] == "st-a2"
    body = web_client.get("/api/parcels?outcome=INVALID_CODE").json
    assert [p["barcode"] for p in body["items"]] == ["RR999999999GB"]
    resp = web_client.get("/api/parcels?limit=0")
    assert resp.status_code == 400 and resp.json["error"].startswith("limit:")


def test_one_parcel_has_event_and_codes(web_client: FlaskClient, web_site: WebSite) -> None:
    hostile = next(e for e in web_site.events if e.barcodes and e.barcodes[0].text == HOSTILE)
    body = web_client.get(f"/api/parcels/{hostile.event_id}").json
    assert body["parcel"]["barcode"] == HOSTILE  # JSON carries the raw text
    assert body["event"]["weight"]["raw"].startswith("S S")
    assert body["codes"][0]["text"] == HOSTILE
    assert web_client.get("/api/parcels/not-an-id").status_code == 404
