"""SQL injection attempts in every search field give normal answers and leave the store intact."""

import pytest
from flask.testing import FlaskClient

from gateway.web.search import encode_cursor
from tests.gateway.conftest import OPERATOR, WebSite
from tests.gateway.web_data import insert_parcel, make_event, now_ms

ATTACKS = [
    "' OR '1'='1",
    "'; DROP TABLE parcels; --",
    '" OR ""="',
    "1) UNION SELECT name, sql, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 FROM sqlite_master --",
    "1) UNION SELECT tablename, tablename, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 FROM pg_tables --",
    "%' --",
    "\\' OR 1=1 /*",
]
OP = {"Authorization": f"Bearer {OPERATOR}"}
FIELDS = ["barcode", "station", "outcome", "since", "until", "cursor", "limit", "match"]


def table_counts(web_site: WebSite) -> dict[str, int]:
    """Return row counts of every table, read straight from the store."""
    conn = web_site.conn
    sql = (
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        if web_site.postgres
        else "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    names = [r[0] for r in conn.execute(sql).fetchall()]
    assert {"parcels", "parcel_codes", "stations", "counters", "leases"} <= set(names)
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("path", ["/api/parcels", "/parcels", "/parcels.csv"])
def test_injection_in_search_fields(
    web_client: FlaskClient, web_site: WebSite, field: str, path: str
) -> None:
    before = table_counts(web_site)
    for attack in ATTACKS:
        resp = web_client.get(path, query_string={field: attack})
        assert resp.status_code in (200, 400), (field, attack, resp.status_code)
        body = resp.get_data(as_text=True)
        assert "CREATE TABLE" not in body, "the schema leaked"
        if resp.status_code == 200 and field == "barcode" and path == "/api/parcels":
            assert resp.get_json()["items"] == [], "an attack string matches no parcel"
        if resp.status_code == 400:
            assert field in body or "limit" in body or "cursor" in body  # the error names it
    assert table_counts(web_site) == before


def test_injection_in_path_parameters(web_client: FlaskClient, web_site: WebSite) -> None:
    before = table_counts(web_site)
    for attack in ATTACKS:
        for path in ("/api/stations/", "/api/parcels/", "/stations/", "/parcels/"):
            resp = web_client.get(path + attack.replace("/", "%2F"))
            assert resp.status_code in (400, 404), (path, attack, resp.status_code)
    assert table_counts(web_site) == before


def test_nul_and_control_input_is_a_normal_answer(web_client: FlaskClient) -> None:
    """PostgreSQL text cannot hold NUL: such a search matches nothing instead of failing."""
    for path in ("/api/parcels", "/parcels.csv", "/parcels"):
        for match in ("exact", "prefix"):
            resp = web_client.get(path, query_string={"barcode": "RR1\x00", "match": match})
            assert resp.status_code == 200, (path, match)
    body = web_client.get("/api/parcels", query_string={"barcode": "RR1\x00", "match": "prefix"})
    assert body.json == {"items": [], "next_cursor": None}
    for path in ("/api/stations/st-a1%00", "/stations/st-a1%00", "/api/stations/%00"):
        assert web_client.get(path).status_code == 404, path
    resp = web_client.post("/api/stations/st-a1%00/commands/tare", headers=OP)
    assert resp.status_code == 404


def test_prefix_next_to_surrogates_and_the_last_code_point(
    web_client: FlaskClient, web_site: WebSite
) -> None:
    """A prefix ending in U+D7FF or U+10FFFF has a valid upper bound (no lone surrogate)."""
    codes = {"QQQ\ud7ffX": "a", "QQQ\ue000Y": "b", "QQW\U0010ffffZ": "c", "QQX": "d"}
    ids = {}
    for seq, (code, tag) in enumerate(codes.items(), 300):
        event = make_event("st-a1", seq, now_ms(), codes=(code,))
        insert_parcel(web_site.conn, event)
        ids[tag] = event.event_id
    cases = (("QQQ\ud7ff", ["a"]), ("QQW\U0010ffff", ["c"]), ("QQQ", ["a", "b"]))
    for prefix, expected in cases:
        body = web_client.get("/api/parcels", query_string={"barcode": prefix, "match": "prefix"})
        assert body.status_code == 200, prefix
        assert sorted(p["event_id"] for p in body.json["items"]) == sorted(ids[t] for t in expected)


def test_out_of_range_times_are_refused(web_client: FlaskClient) -> None:
    for name in ("since", "until"):
        for value in ("99999999999999999999", "9223372036854775808"):
            resp = web_client.get("/api/parcels", query_string={name: value})
            assert resp.status_code == 400 and resp.json["error"].startswith(f"{name}:"), value
    cursor = encode_cursor(2**64, "01890000-0000-7000-8000-000000000000")
    resp = web_client.get("/api/parcels", query_string={"cursor": cursor})
    assert resp.status_code == 400 and resp.json["error"].startswith("cursor:")
