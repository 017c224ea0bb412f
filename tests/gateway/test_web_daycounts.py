"""Today's per-station counts equal a recount from scratch (SQLite: advanced by rowid)."""

from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from gateway.web.daycounts import DayCounts
from gateway.web.db import Database
from gateway.web.formatting import day_start_ms
from tests.gateway.conftest import WebSite
from tests.gateway.web_data import insert_parcel, make_event, now_ms, tx

ZONE = ZoneInfo("Europe/Berlin")
PROBLEMS = ("NO_READ", "NO_WEIGHT", "INVALID_CODE")


@pytest.fixture
def db(web_site: WebSite) -> Iterator[Database]:
    """The web layer's read-only connection to the seeded store."""
    database = Database(web_site.target)
    yield database
    database.close_all()


def _expected(web_site: WebSite, now: int) -> dict[str, dict[str, int]]:
    """Count today's stored parcels per station straight from the table."""
    out: dict[str, Counter] = {}
    day = day_start_ms(now, ZONE)
    rows = web_site.conn.execute("SELECT station, outcome FROM parcels WHERE ts_ms >= ?", (day,))
    for station, outcome in rows:
        counter = out.setdefault(station, Counter())
        counter["*"] += 1
        if outcome in PROBLEMS:
            counter[outcome] += 1
    return {s: dict(c) for s, c in out.items()}


def test_advances_with_new_rows_and_ignores_late_old_ones(web_site: WebSite, db: Database) -> None:
    counts = DayCounts(ZONE)
    now = now_ms()
    assert counts.snapshot(db.conn(), now) == _expected(web_site, now)
    insert_parcel(web_site.conn, make_event("st-a1", 100, now, outcome="NO_READ", codes=()))
    insert_parcel(web_site.conn, make_event("st-new", 1, now, outcome="INVALID_CODE"))
    late = now - 3 * 86_400_000  # replayed from an edge outbox after an outage
    insert_parcel(web_site.conn, make_event("st-a2", 100, late))
    advanced = counts.snapshot(db.conn(), now)
    assert advanced == _expected(web_site, now)
    assert advanced == DayCounts(ZONE).snapshot(db.conn(), now)
    assert advanced["st-new"] == {"*": 1, "INVALID_CODE": 1}


def test_rebuilds_when_rows_vanish_from_the_top(web_site: WebSite, db: Database) -> None:
    counts = DayCounts(ZONE)
    now = now_ms()
    newest = make_event("st-a1", 200, now, outcome="NO_WEIGHT", weight_kg=None)
    insert_parcel(web_site.conn, newest)  # the newest row (highest rowid on SQLite)
    with_it = counts.snapshot(db.conn(), now)
    assert with_it == _expected(web_site, now) and with_it["st-a1"]["NO_WEIGHT"] >= 1
    with tx(web_site.conn):  # e.g. a restore of an older backup
        web_site.conn.execute("DELETE FROM parcel_codes WHERE event_id = ?", (newest.event_id,))
        web_site.conn.execute("DELETE FROM parcels WHERE event_id = ?", (newest.event_id,))
    without = counts.snapshot(db.conn(), now)
    assert without == _expected(web_site, now)
    assert without["st-a1"]["*"] == with_it["st-a1"]["*"] - 1


def test_starts_over_at_local_midnight(web_site: WebSite, db: Database) -> None:
    counts = DayCounts(ZONE)
    now = now_ms()
    counts.snapshot(db.conn(), now)
    tomorrow = day_start_ms(now, ZONE) + 25 * 3_600_000
    assert counts.snapshot(db.conn(), tomorrow) == {}
