"""Close-out: exact counts on a generated 10,000-line flight, the event, CSV, CLI and API."""

import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask.testing import FlaskClient

from dockscan.codes import CodeClassifier, s10_with_check
from dockscan.config import ManifestsConfig, parse_config
from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.hub_events import Closeout
from dockscan.ids import utcnow, uuid7
from gateway.clock import epoch_ms, now_ms
from gateway.manifest_cli import manifest as manifest_cli
from gateway.manifests import closeout
from gateway.manifests.importer import import_manifest
from gateway.manifests.model import make_header
from gateway.reconcile.matcher import Reconciler
from gateway.store import Batch, Store
from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.conftest import OPERATOR, VIEWER, WebSite

T0 = utcnow().replace(microsecond=0) - timedelta(hours=2)
FLIGHT = {"flight": "LH8400", "flight_date": "2026-11-27"}
FLIGHT_ID = "flight:LH8400/2026-11-27"
HOSTILE = ("=cmd|' /C calc'!A0", "<script>alert(1)</script>", "+1+1", "@SUM(A1)", "-2+3")
HEADER = "tracking_id,declared_kg,hawb,bag,description"
SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def s10(i: int) -> str:
    """Return the i-th valid S10 id."""
    return s10_with_check("RR", 40_000_000 + i, "CN")


def cfg_for(target: str) -> Any:
    """Return a site config with two stations (default scale division)."""
    return parse_config({
        "site": {"id": "hub"}, "gateway": {"database": target},
        "stations": [{"id": "st1", "dock": "d1"}, {"id": "st2", "dock": "d2"}],
    })  # fmt: skip


def event(code: str, kg: float, at_ms: int, station: str = "st1") -> ParcelEvent:
    """Return an OK parcel of `code` weighing `kg`, captured at_ms after T0."""
    weight = Weight(value=kg, device_value=f"{kg:.3f}", device_unit="kg", stable=True, raw="",
                    device="scale")  # fmt: skip
    return ParcelEvent(
        event_id=uuid7(), seq=at_ms, site="hub", dock="d1", station=station,
        ts=T0 + timedelta(milliseconds=at_ms), outcome="OK", weight=weight, agent_version="t",
        barcodes=[Barcode(text=code, symbology="code128", source="cam", kind="upu_s10",
                          check_ok=True)],
    )  # fmt: skip


def declared(i: int) -> float:
    """Return line i's declared weight."""
    return round(1.0 + (i % 50) / 10, 3)


def import_lines(conn: Any, tmp: Path, name: str, rows: list[str], **unit: str) -> None:
    """Import a CSV manifest (HEADER columns) for the unit, created an hour before T0."""
    path = tmp / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    cfg = ManifestsConfig(max_file_mb=100)
    import_manifest(conn, path, make_header(**unit), cfg, CodeClassifier(),
                    now=epoch_ms(T0) - 3_600_000)  # fmt: skip


def write(store: Store, events: list[ParcelEvent]) -> None:
    """Store the events in batches of 2,000, as the ingest does."""
    for i in range(0, len(events), 2000):
        part = events[i : i + 2000]
        store.write(Batch(parcels=[(e, e.to_json(), 0) for e in part]))


@dataclass
class Flight:
    """A generated flight and the sets its close-out must name exactly."""

    n: int
    missing: set[str] = field(default_factory=set)
    over: set[str] = field(default_factory=set)
    under: set[str] = field(default_factory=set)
    unexpected: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)  # seen while held
    duplicates: set[str] = field(default_factory=set)  # event ids of the repeat sightings
    bag_last: dict[str, tuple[int, str]] = field(default_factory=dict)  # bag -> (ms, station)
    events: list[ParcelEvent] = field(default_factory=list)


def generate(n: int, seed: int = 13) -> Flight:
    """Return a flight of n lines (a bag per 100) with random missing/over/under/... sets."""
    rng = random.Random(seed)
    order = rng.sample(range(n), n)
    f = Flight(n)
    missing = set(order[: n // 30]) | set(range(700, 800))  # and bag 7 never arrives
    over, under = set(order[n // 30 : n // 30 + n // 100]), set(order[n // 20 : n // 20 + 80])
    held = set(order[n // 10 : n // 10 + 5])
    repeat = set(order[n // 5 : n // 5 + 40]) - missing
    for i in range(n):
        tid = s10(i)
        if i in missing:
            f.missing.add(tid)
            continue
        kg = declared(i) + (2.0 if i in over else -0.8 if i in under else 0.0)
        for ids, name in ((over, f.over), (under, f.under), (held, f.held)):
            if i in ids:
                name.add(tid)
        sightings = [event(tid, kg, 1000 + rng.randrange(3_000_000), "st2" if i % 3 else "st1")]
        if i in repeat:
            sightings.append(event(tid, kg, 3_100_000 + i, "st2"))
            f.duplicates.add(sightings[-1].event_id)
        bag = f"B{i // 100:03d}"
        for e in sightings:
            f.bag_last[bag] = max(f.bag_last.get(bag, (-1, "")), (epoch_ms(e.ts), e.station))
        f.events += sightings
    for j in range(150):
        f.unexpected.add(s10(900_000 + j))
        f.events.append(event(s10(900_000 + j), 1.0, 2000 + j * 7, "st1"))
    rng.shuffle(f.events)
    return f


def flight_rows(n: int, described: Any = lambda i: f"item {i}") -> list[str]:
    """Return the flight's CSV rows: S10 id, declared kg, HAWB, bag B{i // 100}, description."""
    rows = []
    for i in range(n):
        text = described(i).replace('"', '""')
        rows.append(f'{s10(i)},{declared(i)},H{i},B{i // 100:03d},"{text}"')
    return rows


def hold(conn: Any, ids: set[str]) -> None:
    """Hold these ids (customs referral) as the holds store would."""
    conn.executemany(
        "INSERT INTO holds (tracking_id, reason, actor, set_ms, source)"
        " VALUES (?, 'customs_referral', 'test', 0, 'cli')",
        [(t,) for t in sorted(ids)],
    )


def test_closeout_is_exact_on_a_10000_line_flight(tmp_path: Path) -> None:
    target = str(tmp_path / "gateway.db")
    f = generate(10_000)
    with Store(target, reconciler=Reconciler(cfg_for(target), CodeClassifier())) as store:
        import_lines(store.conn, tmp_path, "LH8400.csv", flight_rows(f.n), **FLIGHT)
        hold(store.conn, f.held)
        write(store, f.events)
        before = closeout.report(store.conn, FLIGHT_ID)
        assert before.state == "open" and before.counts()["missing"] == len(f.missing)
        assert closeout.progress(store.conn) == {FLIGHT_ID: (f.n - len(f.missing), f.n)}

        closed_at = now_ms()
        r = closeout.close(store.conn, FLIGHT_ID, "alice", closed_at, "hub")
        assert (r.state, r.closed_ms, r.closed_by) == ("closed", closed_at, "alice")
        assert r.counts() == {
            "expected": f.n, "seen": f.n - len(f.missing), "missing": len(f.missing),
            "unexpected": 150, "weight_over": len(f.over), "weight_under": len(f.under),
            "duplicates": len(f.duplicates), "holds_seen": len(f.held),
        }  # fmt: skip
        assert {li.tracking_id for li in r.missing} == f.missing
        assert {li.tracking_id for li in r.weight_over} == f.over
        assert {li.tracking_id for li in r.weight_under} == f.under
        assert {s.tracking_id for s in r.unexpected} == f.unexpected
        assert {s.tracking_id for s in r.holds} == f.held
        assert {s.event_id for s in r.duplicates} == f.duplicates
        for li in r.missing:  # a missing line's bag was last seen where its last parcel was
            last = f.bag_last.get(li.bag)
            got = li.last_seen and (li.last_seen.ts_ms, li.last_seen.station, li.last_seen.via)
            assert got == (last and (*last, f"bag {li.bag}")), li
        assert all(li.last_seen is None for li in r.missing if li.bag == "B007")

        rows = store.conn.execute("SELECT kind, station, payload FROM outbound").fetchall()
        closeouts = [row for row in rows if row[0] == "closeout"]
        assert len(closeouts) == 1 and closeouts[0][1] == ""
        event_ = Closeout.model_validate_json(closeouts[0][2])
        assert event_.site == "hub" and event_.closed_by == "alice"
        assert set(event_.missing_ids) == f.missing and not event_.missing_truncated
        assert (event_.expected, event_.seen, event_.unexpected) == (f.n, r.seen, 150)
        assert event_.report_path == f"/api/v1/manifests/{FLIGHT_ID}/report"

        with pytest.raises(closeout.AlreadyClosed, match=r"already closed .* by alice"):
            closeout.close(store.conn, FLIGHT_ID, "bob", now_ms(), "hub")
        kinds = store.conn.execute("SELECT kind FROM outbound WHERE kind = 'closeout'")
        assert len(kinds.fetchall()) == 1
        # A missing parcel captured before the close but stored after it stays missing.
        late = sorted(f.missing)[0]
        write(store, [event(late, 1.0, 3_500_000)])
        again = closeout.report(store.conn, FLIGHT_ID)
        assert again.counts() == r.counts() and late in {li.tracking_id for li in again.missing}
        assert closeout.report_json(again) == closeout.report_json(r)


def test_close_on_both_backends_with_uld_last_seen_and_hostile_csv(
    web_site: WebSite, tmp_path: Path
) -> None:
    """The SQL on SQLite and PostgreSQL: close, the ULD last seen, the CSV, CLI and API."""
    target, texts = web_site.target, dict(enumerate(HOSTILE))
    with Store(target, reconciler=Reconciler(web_site.cfg, CodeClassifier())) as store:
        rows = flight_rows(8, lambda i: texts.get(i, f"item {i}"))
        rows[7] = rows[7].replace(",B000,", ",B001,")  # a bag of its own, never seen
        import_lines(store.conn, tmp_path, "f.csv", rows, **FLIGHT)
        import_lines(store.conn, tmp_path, "u.csv", [f"{s10(7)},1,,,", f"{s10(8)},1,,,"],
                     uld="AKE12345CZ")  # fmt: skip
        hold(store.conn, {s10(1)})
        write(store, [event(s10(0), 1.0, 10), event(s10(1), 1.1, 20, "st2"),
                      event(s10(2), 9.0, 30), event(s10(2), 9.0, 40, "st2"),
                      event(s10(8), 1.0, 50, "st2"), event(s10(777), 1.0, 60)])  # fmt: skip
        assert closeout.progress(store.conn) == {FLIGHT_ID: (3, 8), "uld:AKE12345CZ": (1, 2)}
        assert closeout.progress(store.conn, [FLIGHT_ID, "nope:x"]) == {FLIGHT_ID: (3, 8)}
    app = create_app(web_site.cfg, {"TESTING": True, "ACCESS_TOKEN": VIEWER,
                                    "OPERATOR_TOKEN": OPERATOR})  # fmt: skip
    try:
        client: FlaskClient = app.test_client()
        url = f"/api/v1/manifests/{FLIGHT_ID}"
        viewer = {"Authorization": f"Bearer {VIEWER}"}
        op = {"Authorization": f"Bearer {OPERATOR}"}
        progress = client.get(f"{url}/report", headers=viewer).json
        assert progress["manifest"]["state"] == "open" and progress["counts"]["seen"] == 3
        assert client.post(f"{url}/close", headers=viewer).status_code == 403
        assert client.get("/api/v1/manifests/nope:x/report", headers=viewer).status_code == 404
        done = client.post(f"{url}/close", json={"actor": "carol"}, headers=op)
        assert done.status_code == 200, done.json
        body = done.json
        assert body["counts"] == {"expected": 8, "seen": 3, "missing": 5, "unexpected": 1,
                                  "weight_over": 1, "weight_under": 0, "duplicates": 1,
                                  "holds_seen": 1}  # fmt: skip
        assert body["manifest"]["closed_by"] == "carol"
        schemas = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
        for name, value in (("CloseoutReport", body), ("CloseoutLine", body["missing"][0]),
                            ("CloseoutSighting", body["unexpected"][0])):  # fmt: skip
            assert set(schemas[name]["required"]) <= set(value) <= set(schemas[name]["properties"])
        assert {m["tracking_id"] for m in body["missing"]} == {s10(i) for i in range(3, 8)}
        last = {m["tracking_id"]: m["last_seen"] for m in body["missing"]}
        assert last[s10(3)]["station"] == "st2" and last[s10(3)]["via"] == "bag B000"
        assert last[s10(7)]["station"] == "st2" and last[s10(7)]["via"] == "uld AKE12345CZ"
        assert [u["tracking_id"] for u in body["unexpected"]] == [s10(777)]  # s10(8): on the ULD
        assert body["weight_over"][0]["tracking_id"] == s10(2)
        again = client.post(f"{url}/close", headers=op)
        assert again.status_code == 409 and "by carol" in again.json["error"]

        download = client.get(f"{url}/report?format=csv", headers=viewer)
        assert download.status_code == 200 and download.mimetype == "text/csv"
        assert "attachment" in download.headers["Content-Disposition"]
        table = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
        assert [r["tracking_id"] for r in table[:8]] == [s10(i) for i in range(8)]
        assert [r["status"] for r in table] == ["seen"] * 3 + ["missing"] * 5 + ["unexpected"]
        for i, text in texts.items():  # formulas neutralised, HTML kept as plain text
            assert table[i]["description"] == (text if text[0] == "<" else "'" + text)
        assert table[2]["weight"] == "WEIGHT_OVER" and table[2]["sightings"] == "2"
        assert body == client.get(f"{url}/report", headers=viewer).json
    finally:
        shutdown(app)

    cfg_path = tmp_path / "site.toml"
    cfg_path.write_text(f'[site]\nid = "hub"\n[gateway]\ndatabase = "{target}"\n')
    cli = CliRunner()
    shown = cli.invoke(manifest_cli, ["report", FLIGHT_ID, "-c", str(cfg_path), "--csv"])
    assert shown.exit_code == 0, shown.output
    assert list(csv.DictReader(io.StringIO(shown.output))) == table
    twice = cli.invoke(manifest_cli, ["close", FLIGHT_ID, "-c", str(cfg_path)])
    assert twice.exit_code == 1 and "already closed" in twice.output
    uld = cli.invoke(manifest_cli, ["close", "uld:AKE12345CZ", "-c", str(cfg_path),
                                    "--actor", "dave", "--json"])  # fmt: skip
    assert uld.exit_code == 0, uld.output
    unit = json.loads(uld.output)
    assert unit["counts"]["seen"] == 1 and unit["manifest"]["closed_by"] == "dave"
    assert unit["missing"][0]["last_seen"]["via"] == "uld AKE12345CZ"  # its own unit
