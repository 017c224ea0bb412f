"""Parcel search, detail and CSV export over a real seeded store."""

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from tests.gateway.conftest import WebSite
from tests.gateway.web_data import GS1_WITH_GS, HOSTILE, insert_parcel, make_event, now_ms


def _listed(html: str) -> list[str]:
    """Return the event ids linked from a result table, in order."""
    return re.findall(r'href="/parcels/([0-9a-f-]{36})"', html)


def _ids(site: WebSite, **match: str) -> set[str]:
    """Return the ids of seeded events whose attributes equal the given values."""
    return {e.event_id for e in site.events if all(getattr(e, k) == v for k, v in match.items())}


def test_exact_and_prefix_barcode_search(web_client: FlaskClient, web_site: WebSite) -> None:
    html = web_client.get("/parcels?barcode=RR123456785GB").get_data(as_text=True)
    expected = {
        e.event_id for e in web_site.events if "RR123456785GB" in [b.text for b in e.barcodes]
    }
    assert set(_listed(html)) == expected and len(expected) == 1
    html = web_client.get("/parcels?barcode=RR1&match=prefix").get_data(as_text=True)
    prefixed = {
        e.event_id for e in web_site.events if any(b.text.startswith("RR1") for b in e.barcodes)
    }
    assert set(_listed(html)) == prefixed and len(prefixed) == 2
    assert _listed(web_client.get("/parcels?barcode=RR1").get_data(as_text=True)) == []


def test_secondary_code_is_searchable(web_client: FlaskClient, web_site: WebSite) -> None:
    html = web_client.get("/parcels?barcode=RR333333335GB").get_data(as_text=True)
    assert len(_listed(html)) == 1  # second code of the GS1 parcel, via parcel_codes


def test_search_rejects_bad_input_with_a_message(web_client: FlaskClient) -> None:
    resp = web_client.get("/parcels?barcode=RR&match=prefix")
    assert resp.status_code == 400 and "at least 3 characters" in resp.get_data(as_text=True)
    resp = web_client.get("/parcels?outcome=LOST")
    assert resp.status_code == 400 and "outcome:" in resp.get_data(as_text=True)
    resp = web_client.get("/parcels?since=yesterday")
    assert resp.status_code == 400 and "since:" in resp.get_data(as_text=True)
    assert web_client.get("/parcels?cursor=%%%").status_code == 400


def test_station_outcome_and_time_filters(web_client: FlaskClient, web_site: WebSite) -> None:
    html = web_client.get("/parcels?station=st-a1&outcome=NO_READ").get_data(as_text=True)
    assert set(_listed(html)) == _ids(web_site, station="st-a1", outcome="NO_READ")
    # a range given in site time (naive datetime-local values are Europe/Berlin)
    zone = ZoneInfo("Europe/Berlin")
    since = datetime.fromtimestamp((now_ms() - 25 * 60_000) / 1000, zone)
    html = web_client.get(f"/parcels?since={since:%Y-%m-%dT%H:%M:%S}").get_data(as_text=True)
    cutoff = since.replace(microsecond=0).timestamp()
    assert set(_listed(html)) == {e.event_id for e in web_site.events if e.ts.timestamp() >= cutoff}


def test_pages_follow_the_cursor(web_client: FlaskClient, web_site: WebSite) -> None:
    seen: list[str] = []
    url = "/parcels?limit=3"
    while url:
        html = web_client.get(url).get_data(as_text=True)
        seen += _listed(html)
        older = re.search(r'id="older" href="([^"]+)"', html)
        url = older[1].replace("&amp;", "&") if older else ""
    newest_first = sorted(web_site.events, key=lambda e: (e.ts, e.event_id), reverse=True)
    assert seen == [e.event_id for e in newest_first]


def test_detail_shows_every_field_as_text(web_client: FlaskClient, web_site: WebSite) -> None:
    hostile = next(e for e in web_site.events if e.barcodes and e.barcodes[0].text == HOSTILE)
    html = web_client.get(f"/parcels/{hostile.event_id}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "S S     4.000 kg" in html  # raw scale frame
    gs1 = next(e for e in web_site.events if e.barcodes and e.barcodes[0].text == GS1_WITH_GS)
    html = web_client.get(f"/parcels/{gs1.event_id}").get_data(as_text=True)
    assert "\u241d0100012345678905\u241d10LOT42" in html and "RR333333335GB" in html
    no_read = next(e for e in web_site.events if e.outcome == "NO_READ")
    html = web_client.get(f"/parcels/{no_read.event_id}").get_data(as_text=True)
    assert "st-a1-noread-0001.jpg" in html and "st-a1-noread-0002.jpg" in html
    assert "No code read." in html
    assert web_client.get("/parcels/0000").status_code == 404
    assert web_client.get("/parcels/01890000-0000-7000-8000-000000000000").status_code == 404


def test_csv_export_of_a_search(web_client: FlaskClient, web_site: WebSite) -> None:
    resp = web_client.get("/parcels.csv?station=st-a2")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert {r["event_id"] for r in rows} == _ids(web_site, station="st-a2")
    gs1 = next(r for r in rows if r["outcome"] == "OK" and "RR333333335GB" in r["codes"])
    assert gs1["codes"].split(" ")[0] == GS1_WITH_GS  # raw text with GS kept for machines
    assert any(r["barcode"] == HOSTILE for r in rows)


def test_csv_neutralises_spreadsheet_formulas(web_client: FlaskClient, web_site: WebSite) -> None:
    insert_parcel(web_site.conn, make_event("st-a1", 50, now_ms(), codes=("=HYPERLINK(1)",)))
    rows = list(csv.reader(io.StringIO(web_client.get("/parcels.csv").get_data(as_text=True))))
    assert rows[0][0] == "event_id" and len(rows) == len(web_site.events) + 2
    assert rows[1][8] == "'=HYPERLINK(1)"


def test_parcel_with_two_matching_codes_is_listed_once(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    event = make_event("st-a1", 60, now_ms(), codes=("RR777777770GB", "RR777777771GB"))
    insert_parcel(web_site.conn, event)
    html = web_client.get("/parcels?barcode=RR7777&match=prefix").get_data(as_text=True)
    assert _listed(html) == [event.event_id]
