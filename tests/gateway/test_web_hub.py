"""Hub pages over a real SQLite store seeded by the real import and reconciliation paths.

Manifests with progress, one manifest's lines by verdict, the close-out report and CSV, closing,
the discrepancy queue and its CSV, holds (set, release, history, roles), the parcel's verdict and
manifest line, the board's progress bars and holds seen per station; hostile text stays text.
"""

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dockscan.codes import s10_with_check
from dockscan.config import SiteConfig, parse_config
from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.ids import utcnow, uuid7
from gateway import holds
from gateway.manifests.importer import classifier_for, import_manifest
from gateway.manifests.model import make_header
from gateway.reconcile.matcher import Reconciler, rejudger
from gateway.store import Batch, Store
from gateway.web import create_app
from gateway.web.server import shutdown

OPERATOR = "hub-op-token-0123456789"
MANIFEST = "mawb:176-12345675"
FLIGHT = "flight:LH8400/2026-11-27"  # an id with a slash in its path
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.test","open")'
EVIL_CODE = '=HYPERLINK("http://evil.test")'  # an unexpected scan read by a carrier pattern


def s10(i: int) -> str:
    """Return the i-th valid S10 id."""
    return s10_with_check("RR", 30_000_000 + i, "CN")


@dataclass
class HubSite:
    """A seeded store: its config and the event ids by role."""

    cfg: SiteConfig
    ids: dict[str, str]


def hub_config(db: str) -> SiteConfig:
    """Return a site with two stations; st1 reads any code starting with '=' (hostile scans)."""
    return parse_config({
        "site": {"id": "hub", "timezone": "Europe/Berlin"},
        "broker": {"url": "mqtt://127.0.0.1:1"},
        "gateway": {"database": db},
        "stations": [{"id": "st1", "dock": "d1", "code_patterns": {"evil": r"=.{3,60}"}},
                     {"id": "st2", "dock": "d2"}],
    })  # fmt: skip


def _event(code: str, kg: float, station: str, at: float) -> ParcelEvent:
    """Return an OK parcel event of `code` weighing `kg`, captured `at` seconds ago."""
    weight = Weight(value=kg, device_value=f"{kg:.3f}", device_unit="kg", stable=True, raw="",
                    device="scale")  # fmt: skip
    kind = "upu_s10" if code.startswith("RR") else "unknown"
    return ParcelEvent(
        event_id=uuid7(), seq=int(at * 10), site="hub", dock="d1", station=station,
        ts=utcnow() - timedelta(seconds=at), outcome="OK", weight=weight, agent_version="test",
        barcodes=[Barcode(text=code, symbology="code128", source="cam", kind=kind,
                          check_ok=True if kind == "upu_s10" else None)],
    )  # fmt: skip


def seed_hub(db: str, folder: Path) -> HubSite:
    """Import a 5-line manifest, hold one id, then store parcels: every verdict appears once."""
    cfg = hub_config(db)
    codes = classifier_for(cfg)
    body = [
        "tracking_id,declared_kg,hawb,bag,description",
        f"{s10(1)},2.0,H1,B1,{SCRIPT}",
        f'{s10(2)},2.0,H2,B1,"{FORMULA.replace(chr(34), chr(34) * 2)}"',
        f"{s10(3)},5.0,H3,B2,books",
        f"{s10(4)},,H4,B2,no weight declared",
        f"{s10(5)},1.0,H5,B2,<b>never</b> arrives",
    ]
    path = folder / "manifest.csv"
    path.write_text("\n".join(body) + "\n")
    before = int((utcnow() - timedelta(seconds=120)).timestamp() * 1000)  # the parcels come later
    with Store(db, reconciler=Reconciler(cfg, codes)) as store:
        header = make_header(mawb="176-12345675")
        import_manifest(store.conn, path, header, cfg.manifests, codes, now=before,
                        rejudge=rejudger(cfg, codes))  # fmt: skip
        path.write_text(f"tracking_id,declared_kg\n{s10(6)},1.0\n")
        flight = make_header(carrier="LH", flight="LH8400", flight_date="2026-11-27")
        import_manifest(store.conn, path, flight, cfg.manifests, codes, now=before - 1000)
        holds.set_hold(store.conn, s10(2), "customs_referral", "x-ray", "test", "cli", codes,
                       before)  # fmt: skip
        events = {
            "ok": _event(s10(1), 2.05, "st1", 50), "over": _event(s10(2), 3.4, "st1", 40),
            "under": _event(s10(3), 3.0, "st2", 30), "nodecl": _event(s10(4), 1.0, "st2", 20),
            "unexpected": _event(EVIL_CODE, 1.0, "st1", 10),
            "duplicate": _event(s10(1), 2.0, "st2", 5),
        }  # fmt: skip
        parcels = [(e, e.to_json(), 0) for e in events.values()]
        store.write(Batch(parcels=parcels))
    return HubSite(cfg, {k: e.event_id for k, e in events.items()})


@pytest.fixture
def hub(tmp_path: Path) -> HubSite:
    """The seeded store."""
    return seed_hub(str(tmp_path / "gw.db"), tmp_path)


@contextmanager
def app_for(hub: HubSite) -> Iterator[Flask]:
    """The app over a seeded store; viewing is open, the operator logs in with a token."""
    app = create_app(hub.cfg, {"TESTING": True, "OPERATOR_TOKEN": OPERATOR, "PAGE_SIZE": 3})
    yield app
    shutdown(app)


@pytest.fixture
def hub_app(hub: HubSite) -> Iterator[Flask]:
    """The app over the seeded SQLite store."""
    with app_for(hub) as app:
        yield app


@pytest.fixture
def any_store_app(store_target: str, tmp_path: Path) -> Iterator[Flask]:
    """The app over the seed in SQLite, then in PostgreSQL (the manifest SQL on both)."""
    with app_for(seed_hub(store_target, tmp_path)) as app:
        yield app


def operator(app: Flask) -> tuple[FlaskClient, str]:
    """Return a client logged in as operator and its form token."""
    client = app.test_client()
    assert client.post("/login", data={"token": OPERATOR}).status_code == 302
    html = client.get("/holds").get_data(as_text=True)
    return client, html.split('name="csrf" value="')[1].split('"')[0]


def text(resp: Any) -> str:
    """Return a 200 response's body."""
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


def rows_of(html: str, table: str) -> list[str]:
    """Return the data-tracking attributes of a table's rows, in order."""
    part = html.split(f'<table class="{table}"', 1)[1].split("</table>", 1)[0]
    return [chunk.split('"', 1)[0] for chunk in part.split('data-tracking="')[1:]]


def test_manifest_pages_progress_filters_and_escaping(any_store_app: Flask) -> None:
    client = any_store_app.test_client()
    listing = text(client.get("/manifests"))
    assert f'href="/manifests/{MANIFEST}"' in listing
    assert f'data-manifest="{MANIFEST}" value="4" max="5"' in listing  # s10(5) never arrived
    assert f'data-manifest="{FLIGHT}" value="0" max="1"' in listing
    assert f'href="/manifests/{FLIGHT}"' in listing
    flight = text(client.get(f"/manifests/{FLIGHT}/report"))
    assert 'data-count="missing">1<' in flight and s10(6) in flight
    page = text(client.get(f"/manifests/{MANIFEST}"))
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "=HYPERLINK(&#34;http://evil.test&#34;,&#34;open&#34;)" in page
    assert rows_of(page, "lines") == [s10(1), s10(2), s10(3)]  # PAGE_SIZE 3, then a cursor
    more = page.split('id="more-lines" href="')[1].split('"')[0].replace("&amp;", "&")
    assert rows_of(text(client.get(more)), "lines") == [s10(4), s10(5)]
    assert "Missing (1)" in page and "Weight over (1)" in page and "Duplicate (1)" in page
    for flt, expected in {"over": [s10(2)], "under": [s10(3)], "missing": [s10(5)],
                          "nodecl": [s10(4)], "duplicate": [s10(1)]}.items():  # fmt: skip
        got = text(client.get(f"/manifests/{MANIFEST}?verdict={flt}"))
        assert rows_of(got, "lines") == expected, flt
    assert client.get(f"/manifests/{MANIFEST}?verdict=bogus").status_code == 400
    assert client.get("/manifests/mawb:000-00000000").status_code == 404
    assert 'id="close-form"' not in page  # a viewer gets no close button

    report = text(client.get(f"/manifests/{MANIFEST}/report"))
    for key, n in {"missing": 1, "unexpected": 1, "weight_over": 1, "weight_under": 1,
                   "duplicates": 1, "holds_seen": 1}.items():  # fmt: skip
        assert f'data-count="{key}">{n}<' in report, key
    assert "&lt;b&gt;never&lt;/b&gt; arrives" in report.split('id="missing"')[1]
    lines = list(csv.DictReader(io.StringIO(text(client.get(f"/manifests/{MANIFEST}/report.csv")))))
    assert {r["tracking_id"]: r["status"] for r in lines}[s10(5)] == "missing"
    assert [r["tracking_id"] for r in lines if r["status"] == "unexpected"] == ["'" + EVIL_CODE]


def test_operator_closes_a_manifest_viewer_cannot(hub_app: Flask) -> None:
    viewer = hub_app.test_client()
    assert viewer.post("/manifests/close", data={"manifest_id": MANIFEST}).status_code == 403
    client, csrf = operator(hub_app)
    page = text(client.get(f"/manifests/{MANIFEST}"))
    assert 'id="close-form"' in page
    assert client.post("/manifests/close", data={"manifest_id": MANIFEST}).status_code == 400
    resp = client.post("/manifests/close", data={"manifest_id": MANIFEST, "csrf": csrf})
    assert resp.status_code == 302 and resp.location.endswith(f"/manifests/{MANIFEST}/report")
    report = text(client.get(resp.location))
    assert "Close-out report" in report and "closed: 4 of 5 seen" in report
    listing = text(client.get("/manifests")).split("<h2>Closed</h2>")
    assert MANIFEST not in listing[0] and FLIGHT in listing[0]
    assert f'data-manifest="{MANIFEST}"' in listing[1] and FLIGHT not in listing[1]
    again = client.post("/manifests/close", data={"manifest_id": MANIFEST, "csrf": csrf})
    assert "already closed" in text(client.get(again.location))


def test_discrepancy_queue_newest_first_paged_and_csv(hub_app: Flask, hub: HubSite) -> None:
    client = hub_app.test_client()
    page = text(client.get("/discrepancies"))
    events = [c.split('"', 1)[0] for c in page.split('data-event="')[1:]]
    ids = hub.ids
    assert events == [ids["duplicate"], ids["unexpected"], ids["under"]]  # newest first, 3 a page
    assert "=HYPERLINK(&#34;http://evil.test&#34;)" in page
    older = page.split('id="older" href="')[1].split('"')[0].replace("&amp;", "&")
    rest = text(client.get(older))
    assert [c.split('"', 1)[0] for c in rest.split('data-event="')[1:]] == [ids["over"]]
    over = text(client.get("/discrepancies?kind=weight_over"))
    assert f'data-event="{ids["over"]}"' in over and "HELD: customs referral" in over
    assert f'data-event="{ids["duplicate"]}"' not in over
    assert client.get("/discrepancies?kind=nope").status_code == 400
    st1 = text(client.get("/discrepancies?station=st1"))
    assert st1.count('data-event="') == 2
    body = text(client.get("/discrepancies.csv"))
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["event_id"] for r in rows] == [ids[k] for k in ("duplicate", "unexpected",
                                                              "under", "over")]  # fmt: skip
    assert rows[1]["tracking_id"] == "'" + EVIL_CODE  # formula neutralised
    assert rows[3]["hold"] == "customs_referral" and float(rows[3]["delta_kg"]) == 1.4


def test_holds_set_release_history_and_roles(hub_app: Flask) -> None:
    viewer = hub_app.test_client()
    page = text(viewer.get("/holds"))
    assert 'id="hold-form"' not in page and s10(2) in page
    form = {"tracking_id": s10(3), "reason": "inspection", "note": SCRIPT}
    assert viewer.post("/holds/set", data=form).status_code == 403
    client, csrf = operator(hub_app)
    assert client.post("/holds/set", data=form).status_code == 400  # no form token
    resp = client.post("/holds/set", data={**form, "csrf": csrf})
    assert resp.status_code == 302
    page = text(client.get(resp.location))
    assert f"{s10(3)} held" in page and rows_of(page, "holds") == [s10(3), s10(2)]
    assert SCRIPT not in page and "&lt;script&gt;" in page
    bad = client.post("/holds/set", data={**form, "tracking_id": "RR000000000CN", "csrf": csrf})
    assert "hold not set" in text(client.get(bad.location))
    resp = client.post("/holds/release", data={"tracking_id": s10(2), "csrf": csrf})
    page = text(client.get(resp.location))
    assert rows_of(page, "holds") == [s10(3)]
    assert page.count('data-action="set"') == 2 and page.count('data-action="release"') == 1
    one = text(client.get(f"/holds?tracking_id={s10(2)}"))
    assert one.count("<tr data-action=") == 2 and rows_of(one, "holds") == []


def test_parcel_detail_and_board_show_the_hub(hub_app: Flask, hub: HubSite) -> None:
    client = hub_app.test_client()
    page = text(client.get(f"/parcels/{hub.ids['over']}"))
    verdict = page.split('id="verdict"')[1].split("</table>")[0]
    assert 'data-match="MATCHED"' in verdict and 'data-weight="WEIGHT_OVER"' in verdict
    assert "+1.400" in verdict and "HELD: customs referral" in verdict
    lines = page.split('id="manifest-lines"')[1].split("</table>")[0]
    assert MANIFEST in lines and "=HYPERLINK(&#34;" in lines
    assert 'id="manifest-lines"' not in text(client.get(f"/parcels/{hub.ids['unexpected']}"))
    board = text(client.get("/"))
    assert f'data-manifest="{MANIFEST}" value="4" max="5"' in board
    st1 = board.split('data-station="st1"')[1].split("</tr>")[0]
    st2 = board.split('data-station="st2"')[1].split("</tr>")[0]
    assert 'data-holds-seen="1"' in st1 and 'data-holds-seen="0"' in st2
