"""Reconciliation on both backends: verdicts at ingest, duplicates, weight, re-judging."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dockscan.codes import CodeClassifier, s10_with_check
from dockscan.config import ReconcileConfig, parse_config
from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.hub_events import Match, Verdict, VerdictBatch, WeightCheck
from dockscan.ids import iso_ms, utcnow, uuid7
from gateway.clock import from_ms, iso_from_ms
from gateway.manifests.importer import import_manifest
from gateway.manifests.model import make_header
from gateway.reconcile.matcher import Reconciler, verdict_batch_json
from gateway.reconcile.verdict import mpe_kg, weigh
from gateway.store import Batch, Store, transaction

HEADER = "tracking_id,declared_kg"
T0 = utcnow().replace(microsecond=0)


def s10(i: int) -> str:
    """Return the i-th valid S10 id."""
    return s10_with_check("RR", 20_000_000 + i, "CN")


def site(target: str, division: float = 0.01) -> Any:
    """Return a site config whose station st1 has a scale of division `division`."""
    scale = {"kind": "scale", "id": "scale", "protocol": "mt-sics", "port": "/dev/null",
             "division_kg": division}  # fmt: skip
    return parse_config({
        "site": {"id": "hub"},
        "gateway": {"database": target},
        "stations": [{"id": "st1", "dock": "d1", "devices": [scale]}, {"id": "st2", "dock": "d2"}],
    })  # fmt: skip


def event(code: str, kg: float | None, station: str = "st1", at: int = 0, **kw: Any) -> ParcelEvent:
    """Return an OK parcel event of `code` weighing `kg`, `at` seconds after T0."""
    weight = None
    if kg is not None:
        weight = Weight(value=kg, device_value=f"{kg:.3f}", device_unit="kg", stable=True,
                        raw="", device="scale")  # fmt: skip
    return ParcelEvent(
        event_id=uuid7(), seq=at, site="hub", dock="d1", station=station,
        ts=T0 + timedelta(seconds=at), outcome=kw.pop("outcome", "OK" if weight else "NO_WEIGHT"),
        barcodes=[Barcode(text=code, symbology="code128", source="cam", kind="upu_s10",
                          check_ok=True)],
        weight=weight, agent_version="test", **kw,
    )  # fmt: skip


def manifest(conn: Any, tmp: Path, rows: dict[str, float | None], name: str = "m.csv") -> None:
    """Import a MAWB manifest of tracking id -> declared kg."""
    path = tmp / name
    body = [f"{tid},{'' if kg is None else kg}" for tid, kg in rows.items()]
    path.write_text("\n".join([HEADER, *body]) + "\n")
    cfg = site("x").manifests
    import_manifest(conn, path, make_header(mawb="176-12345675"), cfg, CodeClassifier())


def write(store: Store, *events: ParcelEvent) -> dict[str, Verdict]:
    """Store a batch; return event id -> verdict, checked against the published contract."""
    written = store.write(Batch(parcels=[(e, e.to_json(), 0) for e in events]))
    out = {}
    for (site, station), verdicts in written.verdicts.items():
        wire = verdict_batch_json(site, station, "gw-1", verdicts)
        out.update({v.event_id: v for v in VerdictBatch.model_validate_json(wire).verdicts})
    return out


@pytest.fixture
def store(store_target: str) -> Any:
    """A store that judges every new parcel."""
    cfg = site(store_target)
    with Store(store_target, reconciler=Reconciler(cfg, CodeClassifier())) as s:
        yield s


def test_scale_error_follows_the_oiml_table() -> None:
    assert mpe_kg(4.0, 0.01) == pytest.approx(0.02)  # 400 e: 2 e in service
    assert mpe_kg(15.0, 0.01) == pytest.approx(0.03)  # 1,500 e
    assert mpe_kg(60.0, 0.01) == pytest.approx(0.04)  # 6,000 e
    assert mpe_kg(4.0, 0.01, "initial") == pytest.approx(0.015)


def test_tolerance_is_the_larger_floor_plus_scale_error() -> None:
    cfg = ReconcileConfig(abs_kg=0.2, pct=5)
    assert weigh(10.0, 10.5, cfg, 0.01) == (WeightCheck.WEIGHT_OK, 0.5, 0.53)  # 5 % + 3 e
    check, delta, _ = weigh(10.0, 10.6, cfg, 0.01)
    assert (check, delta) == (WeightCheck.WEIGHT_OVER, 0.6)
    assert weigh(1.0, 0.77, cfg, 0.01)[0] == WeightCheck.WEIGHT_UNDER  # floor 0.2 + 0.02
    assert weigh(1.0, 0.78, cfg, 0.01)[0] == WeightCheck.WEIGHT_OK  # at the limit
    assert weigh(None, 1.0, cfg, 0.01)[0] == WeightCheck.NO_DECLARATION
    assert weigh(1.0, None, cfg, 0.01)[0] == WeightCheck.NO_WEIGHT


def test_each_parcel_gets_its_verdict(store: Store, tmp_path: Path) -> None:
    manifest(store.conn, tmp_path, {s10(1): 2.0, s10(2): 2.0, s10(3): None, s10(4): 5.0})
    ok, over, nodecl, unexpected = (
        event(s10(1), 2.1), event(s10(2), 3.4, at=1), event(s10(3), 1.0, at=2),
        event(s10(9), 1.0, at=3),
    )  # fmt: skip
    got = write(store, ok, over, nodecl, unexpected)
    assert (got[ok.event_id].match, got[ok.event_id].weight) == (Match.MATCHED, "WEIGHT_OK")
    assert got[over.event_id].weight == WeightCheck.WEIGHT_OVER
    assert got[over.event_id].delta_kg == pytest.approx(1.4)
    assert got[over.event_id].manifest_id == "mawb:176-12345675"
    assert got[nodecl.event_id].weight == WeightCheck.NO_DECLARATION
    assert got[unexpected.event_id].match == Match.UNEXPECTED
    again = event(s10(1), 2.0, station="st2", at=60)
    dup = write(store, again)[again.event_id]
    assert (dup.match, dup.first_event_id) == (Match.DUPLICATE, ok.event_id)
    # a re-sent event is acknowledged again with the verdict it got the first time
    assert write(store, ok)[ok.event_id] == got[ok.event_id]
    assert store.conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 5


def test_no_open_manifest_means_nothing_to_match(store: Store) -> None:
    e = event(s10(1), 1.0)
    assert write(store, e)[e.event_id].match == Match.NO_MANIFEST


def test_two_sightings_in_one_batch_and_a_late_earlier_one(store: Store, tmp_path: Path) -> None:
    manifest(store.conn, tmp_path, {s10(1): 1.0})
    late, early = event(s10(1), 1.0, at=10), event(s10(1), 1.0, station="st2", at=5)
    got = write(store, late, early)
    assert got[early.event_id].match == Match.MATCHED
    assert got[late.event_id].match == Match.DUPLICATE
    earliest = event(s10(1), 1.0, at=1)  # an edge that was offline delivers an older scan
    assert write(store, earliest)[earliest.event_id].match == Match.MATCHED
    rows = dict(store.conn.execute("SELECT event_id, match FROM verdicts").fetchall())
    assert rows == {earliest.event_id: "MATCHED", early.event_id: "DUPLICATE",
                    late.event_id: "DUPLICATE"}  # fmt: skip


def test_unusable_codes_get_no_verdict(store: Store, tmp_path: Path) -> None:
    manifest(store.conn, tmp_path, {s10(1): 1.0})
    bad = event(s10(1), 1.0, outcome="INVALID_CODE")
    plain = event("JJD000000000001", 1.0)
    assert write(store, bad, plain) == {}


def test_a_later_manifest_rejudges_stored_parcels(store: Store, tmp_path: Path) -> None:
    manifest(store.conn, tmp_path, {s10(50): 1.0}, name="other.csv")
    first = event(s10(1), 4.0)
    assert write(store, first)[first.event_id].match == Match.UNEXPECTED
    path = tmp_path / "late.csv"
    path.write_text(f"{HEADER}\n{s10(1)},2.0\n")
    header = make_header(flight="LH8400", flight_date="2026-11-27")
    cfg = site("x")
    reconciler = store.reconciler
    assert reconciler is not None
    report = import_manifest(store.conn, path, header, cfg.manifests, CodeClassifier(),
                             rejudge=reconciler.rejudge_manifest)  # fmt: skip
    assert report.rejudged == 1
    assert report.summary().endswith("; 1 verdicts changed")
    row = store.conn.execute(
        "SELECT match, weight, manifest_id, revision FROM verdicts WHERE event_id = ?",
        (first.event_id,),
    ).fetchone()
    assert tuple(row) == ("MATCHED", "WEIGHT_OVER", header.id, 1)
    kind, station, payload = store.conn.execute(
        "SELECT kind, station, payload FROM outbound WHERE published_ms IS NULL"
    ).fetchone()
    queued = VerdictBatch.model_validate(json.loads(payload))
    assert (kind, station, queued.verdicts[0].event_id) == ("verdict", "st1", first.event_id)
    assert queued.verdicts[0].revision == 1
    with transaction(store.conn):
        assert reconciler.rejudge_manifest(store.conn, header.id, 0) == 0  # nothing changed


@pytest.mark.parametrize("ms", [0, 999, 1000, 1_764_800_000_123, -1, -1001, 4_102_444_800_000])
def test_the_fast_wire_time_is_the_contract_time(ms: int) -> None:
    assert iso_from_ms(ms) == iso_ms(from_ms(ms))
