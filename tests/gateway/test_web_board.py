"""The station board and station page over a real seeded SQLite store."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from tests.gateway.conftest import WebSite
from tests.gateway.web_data import insert_parcel, make_event, now_ms, set_state, upsert_station


def _row(html: str, station: str) -> str:
    """Return the board row of one station."""
    match = re.search(rf'<tr class="station [^"]*" data-station="{station}".*?</tr>', html, re.S)
    assert match, f"no row for {station}"
    return match[0]


def _berlin_midnight_ms() -> float:
    """Return today's local midnight in the site's zone (Europe/Berlin) as epoch ms."""
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000


def _expected(site: WebSite, station: str, outcome: str | None = None) -> tuple[int, int]:
    """Count a station's seeded parcels (of one outcome) in the last hour and today."""
    times = [
        e.ts.timestamp() * 1000
        for e in site.events
        if e.station == station and outcome in (None, e.outcome)
    ]
    hour_ago, day = now_ms() - 3_600_000, _berlin_midnight_ms()
    return sum(t >= hour_ago for t in times), sum(t >= day for t in times)


def test_board_lists_every_station_with_state(web_client: FlaskClient) -> None:
    html = web_client.get("/").get_data(as_text=True)
    for station in ("st-a1", "st-a2", "st-b1", "st-new"):
        assert f'data-station="{station}"' in html
    assert 'data-state="offline"' in _row(html, "st-b1")
    assert "row-offline" in _row(html, "st-b1")
    assert ">OFFLINE<" in _row(html, "st-b1")
    assert 'data-state="unknown"' in _row(html, "st-new")  # configured, never heard from
    assert 'data-state="online"' in _row(html, "st-a1")


def test_board_counts_and_rates(web_client: FlaskClient, web_site: WebSite) -> None:
    row = _row(web_client.get("/").get_data(as_text=True), "st-a1")
    last_hour, today = _expected(web_site, "st-a1")
    _, no_read = _expected(web_site, "st-a1", "NO_READ")
    _, no_weight = _expected(web_site, "st-a1", "NO_WEIGHT")
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells[0] == str(last_hour) and cells[1] == str(today)
    assert cells[2] == (f"{100 * no_read / today:.1f} %" if today else "–")
    assert cells[3] == (f"{100 * no_weight / today:.1f} %" if today else "–")
    assert cells[5] == "3"  # outbox depth


def test_board_shows_device_faults_with_since(web_client: FlaskClient) -> None:
    row = _row(web_client.get("/").get_data(as_text=True), "st-a2")
    assert "dev-fault" in row and "cam1: stalled since" in row
    assert "no frames for 12 s" in row


def test_board_filters_by_dock_and_sorts_offline_first(web_client: FlaskClient) -> None:
    html = web_client.get("/?dock=D2").get_data(as_text=True)
    shown = re.findall(r'data-station="([^"]+)"', html)
    assert sorted(shown) == ["st-b1", "st-new"]
    html = web_client.get("/?sort=state").get_data(as_text=True)
    assert re.findall(r'data-station="([^"]+)"', html)[0] == "st-b1"


def test_silent_online_station_shows_as_stale(web_client: FlaskClient, web_site: WebSite) -> None:
    upsert_station(web_site.conn, "st-a1", last_seen_ms=now_ms() - 10 * 60_000)
    row = _row(web_client.get("/board/live").get_data(as_text=True), "st-a1")
    assert 'data-state="stale"' in row


def test_board_reflects_new_parcels_and_state_changes(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    before = re.findall(
        r'<td class="num">([^<]*)</td>',
        _row(web_client.get("/board/live").get_data(as_text=True), "st-a1"),
    )
    insert_parcel(web_site.conn, make_event("st-a1", 99, now_ms()))
    set_state(web_site.conn, "st-a1", "offline")
    row = _row(web_client.get("/board/live").get_data(as_text=True), "st-a1")
    after = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert int(after[0]) == int(before[0]) + 1
    assert 'data-state="offline"' in row


def test_station_page_has_chart_events_faults_dead_letters(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    html = web_client.get("/stations/st-a1").get_data(as_text=True)
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]*): (\d+) parcels</title>', html)
    assert len(bars) == 24
    start = (now_ms() // 3_600_000 - 23) * 3_600_000
    in_24h = sum(e.station == "st-a1" and e.ts.timestamp() * 1000 >= start for e in web_site.events)
    assert sum(int(n) for _, n in bars) == in_24h
    assert "unplugged" in html and "disconnected" in html  # closed fault with start and end
    assert "seq: &gt;= 0" in html  # dead letter reason, escaped
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html and "<script>alert(2)" not in html
    assert "\u241d" in html  # GS byte of the dead letter shown visibly
    last = next(e for e in web_site.events if e.station == "st-a1")
    local = last.ts.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M:%S")
    assert local in html  # site time zone, not UTC


def test_station_page_open_fault_and_unknown_station(web_client: FlaskClient) -> None:
    html = web_client.get("/stations/st-a2").get_data(as_text=True)
    assert re.search(r'<tr class="open-fault">.*?cam1.*?stalled.*?open</td>', html, re.S)
    assert web_client.get("/stations/nope").status_code == 404


def test_operator_buttons_only_for_operators(web_client: FlaskClient) -> None:
    assert "Tare" not in web_client.get("/stations/st-a1").get_data(as_text=True)
    web_client.post("/login", data={"token": "op-token-0123456789"})
    html = web_client.get("/stations/st-a1").get_data(as_text=True)
    for name in ("Zero", "Tare", "Resend"):
        assert f">{name}</button>" in html


def test_device_map_stored_as_json_bytes(web_client: FlaskClient, web_site: WebSite) -> None:
    doc = b'{"scale1": {"kind": "scale", "state": "fault", "reason": "overload",'
    doc += b' "since": "2026-11-27T08:00:00.000Z"}}'
    # Older ingests wrote orjson bytes, which SQLite keeps as a BLOB; PostgreSQL's TEXT column
    # only takes text (the ingest decodes there).
    value = doc.decode() if web_site.postgres else doc
    web_site.conn.execute("UPDATE stations SET devices = ? WHERE id = 'st-a1'", (value,))
    stored = web_site.conn.execute("SELECT devices FROM stations WHERE id = 'st-a1'").fetchone()
    assert stored[0] == value
    row = _row(web_client.get("/board/live").get_data(as_text=True), "st-a1")
    assert "scale1: fault since" in row and "overload" in row
