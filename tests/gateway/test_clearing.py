"""The clearing desk over a real store (SQLite and PostgreSQL): queue, corrections, evidence.

Corrections are records of their own: the parcel row never changes. A keyed code is checked as
a scan is and decides the parcel's verdict, so its manifest line counts as seen; a second clerk
cannot silently overwrite the first; every correction is queued for integrators.
"""

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dockscan.correction_events import Correction
from gateway.clearing.queue import shift_at
from gateway.export import export
from gateway.manifests import closeout
from gateway.retention import purge_by_age
from gateway.store import open_db
from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.clearing_seed import MANIFEST, OPERATOR, SCRIPT, VIEWER, ClearingSite, s10, seed

API = {"Authorization": f"Bearer {OPERATOR}"}


@pytest.fixture
def site(store_target: str, tmp_path: Path) -> ClearingSite:
    """The seeded store on SQLite, then on PostgreSQL."""
    return seed(store_target, tmp_path)


@pytest.fixture
def app(site: ClearingSite) -> Iterator[Flask]:
    """The app over the seeded store; viewing is open, the operator logs in with a token."""
    app = create_app(site.cfg, {"TESTING": True, "OPERATOR_TOKEN": OPERATOR})
    yield app
    shutdown(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client with no session (a viewer while the site has no access token)."""
    return app.test_client()


def db(site: ClearingSite) -> Any:
    """Open a connection to the seeded store."""
    return open_db(site.cfg.gateway.database)


def rows(site: ClearingSite, sql: str, *args: object) -> list[tuple]:
    """Run one query on the seeded store."""
    conn = db(site)
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def correct(client: FlaskClient, event_id: str, **body: object) -> Any:
    """POST a correction through the API as the operator."""
    return client.post(f"/api/v1/parcels/{event_id}/corrections", json=body, headers=API)


def test_a_keyed_code_resolves_the_parcel_and_its_manifest_line_counts_as_seen(
    site: ClearingSite, client: FlaskClient
) -> None:
    before = rows(site, "SELECT * FROM parcels WHERE event_id = ?", site.ids["no_read"])
    queue = client.get("/api/v1/clearing").json["items"]
    oldest_first = ("no_read", "multi", "invalid", "recent")
    assert [i["event_id"] for i in queue] == [site.ids[k] for k in oldest_first]
    resp = correct(client, site.ids["no_read"], code=f" {s10(1).lower()} ", note="label torn",
                   actor="ann", replaces=None)  # fmt: skip
    assert resp.status_code == 201, resp.json
    message = Correction.model_validate(resp.json)
    assert (message.action, message.code.tracking_id, message.by, message.supersedes) == (
        "keyed", s10(1), "ann", None)  # fmt: skip
    assert message.original_outcome == "NO_READ" and message.station == "st1"
    # The station's event is as it was; the correction and its verdict stand beside it.
    assert rows(site, "SELECT * FROM parcels WHERE event_id = ?", site.ids["no_read"]) == before
    verdict = rows(site, "SELECT tracking_id, match, weight, manifest_id FROM verdicts"
                   " WHERE event_id = ?", site.ids["no_read"])  # fmt: skip
    assert verdict == [(s10(1), "MATCHED", "WEIGHT_OK", MANIFEST)]
    conn = db(site)
    try:
        report = closeout.report(conn, MANIFEST)
    finally:
        conn.close()
    assert (report.expected, report.seen) == (3, 2)  # s10(3) read, s10(1) keyed
    assert [i["event_id"] for i in client.get("/api/v1/clearing").json["items"]] == [
        site.ids["multi"], site.ids["invalid"], site.ids["recent"]]  # fmt: skip
    queued = rows(site, "SELECT kind, station, payload FROM outbound ORDER BY id")
    assert [(k, s) for k, s, _ in queued] == [("correction", "st1"), ("verdict", "st1")]
    assert Correction.model_validate_json(queued[0][2]) == message
    assert json.loads(queued[1][2])["verdicts"][0]["tracking_id"] == s10(1)


def test_a_second_clerk_cannot_overwrite_what_they_did_not_see(
    site: ClearingSite, client: FlaskClient
) -> None:
    event_id = site.ids["multi"]
    first = correct(client, event_id, code=s10(2), actor="ann", replaces=None)
    assert first.status_code == 201
    late = correct(client, event_id, action="relabelled", actor="bob", replaces=None)
    assert late.status_code == 409 and "already resolved by ann" in late.json["error"]
    first_id = first.json["correction_id"]
    again = correct(client, event_id, action="relabelled", actor="bob", replaces=first_id)
    assert again.status_code == 201 and again.json["supersedes"] == first_id
    listed = client.get(f"/api/v1/parcels/{event_id}/corrections").json["items"]
    assert [(c["action"], c["by"]) for c in listed] == [("relabelled", "bob"), ("keyed", "ann")]
    # Relabelled: no code, so no verdict any more; the keyed one stays as history.
    assert rows(site, "SELECT count(*) FROM verdicts WHERE event_id = ?", event_id) == [(0,)]
    assert rows(site, "SELECT count(*) FROM corrections") == [(2,)]


@pytest.mark.parametrize(
    ("role", "body", "status", "reason"),
    [
        ("invalid", {"code": s10(1)[:-3] + "0CN"}, 400, "check failed"),
        ("invalid", {"code": "hello"}, 400, "not a parcel id"),
        ("invalid", {"code": "RR\x07123"}, 400, "control characters"),
        ("invalid", {"code": "  "}, 400, "type or scan"),
        ("invalid", {"action": "relabelled", "code": s10(1)}, 400, "carries no code"),
        ("invalid", {"action": "lost", "code": s10(1)}, 400, "action: one of"),
        ("invalid", {"code": s10(1), "actor": ""}, None, ""),  # the API names the operator
        ("read", {"code": s10(1)}, 409, "only NO_READ"),
    ],
)
def test_what_cannot_resolve_a_parcel_is_refused_with_the_reason(
    site: ClearingSite, client: FlaskClient, role: str, body: dict, status: int | None, reason: str
) -> None:
    resp = correct(client, site.ids[role], **body)
    if status is None:
        assert resp.status_code == 201 and resp.json["by"] == "operator"
        return
    assert resp.status_code == status and reason in resp.json["error"], resp.json
    assert rows(site, "SELECT count(*) FROM corrections") == [(0,)]


def test_only_the_operator_corrects(site: ClearingSite, client: FlaskClient) -> None:
    event_id = site.ids["no_read"]
    assert (
        client.post(f"/api/v1/parcels/{event_id}/corrections", json={"code": s10(1)}).status_code
        == 403
    )
    assert correct(client, "01234567-89ab-7def-8123-456789abcdef", code=s10(1)).status_code == 404
    assert client.post(f"/clearing/{event_id}", data={"code": s10(1)}).status_code == 403


def operator(app: Flask, name: str = "") -> tuple[FlaskClient, str]:
    """Return a client logged in as operator (with a name) and its form token."""
    client = app.test_client()
    assert client.post("/login", data={"token": OPERATOR, "name": name}).status_code == 302
    html = client.get("/clearing").get_data(as_text=True)
    return client, html.split('name="csrf" value="')[1].split('"')[0]


def test_the_clerk_form_saves_and_moves_on_or_says_what_is_wrong(
    site: ClearingSite, app: Flask
) -> None:
    clerk, csrf = operator(app, "Ann Clerk")
    page = clerk.get("/clearing?dock=d2").get_data(as_text=True)
    assert f'data-event-id="{site.ids["multi"]}"' in page.split('id="current"')[1][:300]
    assert 'value="Ann Clerk"' in page  # the name given at log-in
    form = {"csrf": csrf, "action": "keyed", "code": "RR1", "clerk": "", "dock": "d2",
            "following": site.ids["invalid"], "replaces": ""}  # fmt: skip
    bad = clerk.post(f"/clearing/{site.ids['multi']}", data=form)
    assert bad.status_code == 302 and f"at={site.ids['multi']}" in bad.location
    shown = clerk.get(bad.location).get_data(as_text=True)
    assert 'id="clear-error"' in shown and "not a parcel id" in shown
    good = clerk.post(f"/clearing/{site.ids['multi']}", data={**form, "code": s10(2)})
    assert good.status_code == 302 and f"at={site.ids['invalid']}" in good.location
    assert "dock=d2" in good.location
    assert rows(site, "SELECT actor, code FROM corrections") == [("Ann Clerk", s10(2))]
    html = clerk.get(f"/parcels/{site.ids['multi']}").get_data(as_text=True)
    assert 'id="corrections"' in html and "Ann Clerk" in html and "in force" in html


def test_queue_filters_by_dock_and_shift_and_shows_image_states(
    site: ClearingSite, client: FlaskClient
) -> None:
    items = client.get("/api/v1/clearing?dock=d1").json["items"]
    assert [i["event_id"] for i in items] == [site.ids["no_read"], site.ids["recent"]]
    assert [i["state"] for i in items[0]["images"]] == ["stored", "missing"]
    assert items[0]["images"][0]["url"] == f"/evidence/{site.ids['no_read']}/0.jpg"
    assert [i["state"] for i in items[1]["images"]] == ["waiting"]
    page = client.get("/clearing").get_data(as_text=True)
    shift = page.split('name="shift"')[1].split('<option value="')[2].split('"')[0]
    now_shift = client.get("/api/v1/clearing", query_string={"shift": shift}).json["items"]
    zone = ZoneInfo("Europe/Berlin")
    start = datetime.strptime(shift, "%Y-%m-%d %H:%M").replace(tzinfo=zone).timestamp()
    assert all(datetime.fromisoformat(i["ts"]).timestamp() >= start for i in now_shift)
    assert client.get("/api/v1/clearing?shift=yesterday").status_code == 400
    hostile = client.get(f"/clearing?at={site.ids['invalid']}").get_data(as_text=True)
    assert SCRIPT not in hostile and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile


def test_evidence_is_served_by_id_to_logged_in_users_only(site: ClearingSite) -> None:
    url = f"/evidence/{site.ids['no_read']}/0.jpg"
    open_site = create_app(site.cfg, {"TESTING": True}).test_client()
    image = open_site.get(url)
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.data == site.jpeg and image.headers["X-Content-Type-Options"] == "nosniff"
    for bad in (f"/evidence/{site.ids['no_read']}/1.jpg", f"/evidence/{site.ids['read']}/0.jpg",
                "/evidence/..%2F..%2Fetc%2Fpasswd/0.jpg", "/evidence/x/0.jpg",
                f"/evidence/{site.ids['no_read']}/99.jpg"):  # fmt: skip
        assert open_site.get(bad).status_code == 404, bad
    guarded = create_app(site.cfg, {"TESTING": True, "ACCESS_TOKEN": VIEWER}).test_client()
    assert guarded.get(url).status_code == 302  # to the log-in form
    assert guarded.get(url, headers={"Authorization": f"Bearer {VIEWER}"}).data == site.jpeg


def test_corrections_are_exported_with_formulas_neutralised(
    site: ClearingSite, client: FlaskClient
) -> None:
    assert correct(client, site.ids["invalid"], code=s10(2), note="=HYPERLINK(1)",
                   actor=SCRIPT).status_code == 201  # fmt: skip
    assert correct(client, site.ids["no_read"], action="returned_to_sorter").status_code == 201
    table = list(csv.DictReader(io.StringIO(client.get("/corrections.csv").get_data(as_text=True))))
    assert [(r["event_id"], r["action"], r["tracking_id"]) for r in table] == [
        (site.ids["invalid"], "keyed", s10(2)),
        (site.ids["no_read"], "returned_to_sorter", ""),
    ]
    assert table[0]["note"] == "'=HYPERLINK(1)" and table[0]["by"] == SCRIPT
    api = client.get("/api/v1/corrections?since=0&limit=1").json["items"]
    assert [c["event_id"] for c in api] == [site.ids["invalid"]]
    html = client.get(f"/parcels/{site.ids['invalid']}").get_data(as_text=True)
    assert SCRIPT not in html and "&lt;script&gt;" in html


def test_retention_takes_corrections_evidence_and_desk_rows_with_their_parcel(
    site: ClearingSite, client: FlaskClient
) -> None:
    assert correct(client, site.ids["no_read"], code=s10(1)).status_code == 201
    conn = db(site)
    try:
        cutoff = conn.execute("SELECT ts_ms FROM parcels WHERE event_id = ?",
                              (site.ids["multi"],)).fetchone()[0]  # fmt: skip
        purge_by_age(conn, cutoff + 1)  # the read parcel, the no-read and the multi-read go
    finally:
        conn.close()
    assert rows(site, "SELECT count(*) FROM corrections") == [(0,)]
    assert rows(site, "SELECT count(*) FROM evidence") == [(0,)]
    left = {site.ids["invalid"], site.ids["recent"]}  # still unresolved: the desk keeps them
    assert {r[0] for r in rows(site, "SELECT event_id FROM clearing_open")} == left


def test_shifts_follow_the_site_clock_across_midnight_and_summer_time() -> None:
    zone, starts = ZoneInfo("Europe/Berlin"), ["06:00", "14:00", "22:00"]
    night = shift_at(int(datetime(2026, 3, 29, 2, 30, tzinfo=UTC).timestamp() * 1000), zone,
                     starts)  # fmt: skip
    assert night.label == "2026-03-28 22:00"  # 04:30 summer time, in the night shift
    assert (night.end_ms - night.start_ms) / 3_600_000 == 7  # the clocks went forward an hour
    day = shift_at(int(datetime(2026, 12, 6, 13, 59, tzinfo=UTC).timestamp() * 1000), zone,
                   starts)  # fmt: skip
    assert day.label == "2026-12-06 14:00"


def test_the_parcel_export_carries_the_correction_in_force(
    site: ClearingSite, client: FlaskClient
) -> None:
    assert correct(client, site.ids["multi"], code=s10(2), actor="ann").status_code == 201
    conn = db(site)
    out = io.StringIO()
    try:
        assert export(conn, out, "csv", 0, 2**62) == len(site.ids)
    finally:
        conn.close()
    table = {r["event_id"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    fixed = table[site.ids["multi"]]
    assert (fixed["correction"], fixed["corrected_code"], fixed["corrected_tracking_id"],
            fixed["corrected_by"]) == ("keyed", s10(2), s10(2), "ann")  # fmt: skip
    assert fixed["outcome"] == "MULTI_READ" and fixed["corrected_at"].endswith("Z")
    assert table[site.ids["no_read"]]["correction"] == ""
