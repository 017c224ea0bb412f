"""Store writes with reconciliation against the same writes without it, same run, same events.

Two stores get the same two 100,000-line manifests (a flight and a MAWB sharing no lines);
then the same batches of parcel events (90 % listed, 5 % unexpected, 5 % seen before) are
written through `gateway.store.Store` with and without the Reconciler, alternating runs.
This is the store's share of ingest only (no MQTT, no validation), so the ratio is a lower
bound for the whole gateway, whose other work is the same in both cases.

    .venv/bin/python bench/reconcile_bench.py --events 50000 --runs 3 [--store postgres]
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dockscan.codes import CodeClassifier, s10_with_check
from dockscan.config import parse_config
from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.ids import utcnow, uuid7
from gateway.manifests.importer import import_manifest
from gateway.manifests.model import make_header
from gateway.reconcile.matcher import Reconciler
from gateway.store import Batch, Store

LINES = 100_000


def s10(i: int) -> str:
    """Return the i-th valid S10 id."""
    return s10_with_check("RR", 30_000_000 + i, "CN")


def write_manifest(path: Path, first: int) -> Path:
    """Write a 100,000-line CSV manifest of consecutive S10 ids."""
    rows = (
        f"{s10(i)},{1 + (i % 400) / 100:.2f},H{i},B{i // 200}" for i in range(first, first + LINES)
    )
    path.write_text("tracking_id,declared_kg,hawb,bag\n" + "\n".join(rows) + "\n")
    return path


def events(n: int, seed: int = 7) -> list[ParcelEvent]:
    """Return n events: 90 % on a manifest, 5 % unexpected, 5 % repeats of earlier ids."""
    rnd, t0, out = random.Random(seed), utcnow(), []
    for i in range(n):
        roll = rnd.random()
        if roll < 0.90:
            code = s10(rnd.randrange(2 * LINES))
        elif roll < 0.95:
            code = s10(5 * LINES + i)
        else:
            code = out[rnd.randrange(len(out))].barcodes[0].text if out else s10(0)
        kg = round(1 + rnd.random() * 4, 3)
        out.append(ParcelEvent(
            event_id=uuid7(), seq=i, site="hub", dock="d1", station=f"st{i % 20}",
            ts=t0 + timedelta(milliseconds=i), outcome="OK",
            barcodes=[Barcode(text=code, symbology="code128", source="cam", kind="upu_s10",
                              check_ok=True)],
            weight=Weight(value=kg, device_value=f"{kg:.3f}", device_unit="kg", stable=True,
                          raw="", device="scale"),
            agent_version="bench",
        ))  # fmt: skip
    return out


def fresh_store(target: str, workdir: Path, cfg, reconcile: bool) -> Store:
    """Open a new store with both manifests imported."""
    reconciler = Reconciler(cfg, CodeClassifier()) if reconcile else None
    store = Store(target, reconciler=reconciler)
    for name, first, header in (
        ("flight.csv", 0, make_header(flight="LH8400", flight_date="2026-11-27")),
        ("mawb.csv", LINES, make_header(mawb="176-12345675")),
    ):
        path = workdir / name
        if not path.exists():
            write_manifest(path, first)
        import_manifest(store.conn, path, header, cfg.manifests, CodeClassifier())
    return store


def run(target: str, workdir: Path, evs: list[ParcelEvent], batch: int, reconcile: bool) -> float:
    """Write the events in batches; return events per second."""
    cfg = parse_config({"site": {"id": "hub"}, "gateway": {"database": target}})
    store = fresh_store(target, workdir, cfg, reconcile)
    payloads = [(e, e.to_json(), 0) for e in evs]
    try:
        start = time.perf_counter()
        for i in range(0, len(payloads), batch):
            store.write(Batch(parcels=payloads[i : i + batch]))
        elapsed = time.perf_counter() - start
        if reconcile:
            judged = store.conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]
            assert judged == len(evs), f"{judged} verdicts for {len(evs)} events"
    finally:
        store.close()
    return len(evs) / elapsed


def main() -> None:
    """Run both cases alternately and print events/s and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=500, help="events per transaction")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    evs = events(args.events)
    pg = None
    if args.store == "postgres":
        from bench.ingest_bench import start_postgres

        pg = start_postgres()
    rates: dict[bool, list[float]] = {False: [], True: []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            for r in range(args.runs):
                for reconcile in (False, True):
                    if pg is not None:
                        name = f"rec{r}{int(reconcile)}"
                        pg.create_database(name)
                        target = pg.url(name)
                    else:
                        target = str(workdir / f"run{r}-{int(reconcile)}.db")
                    rates[reconcile].append(run(target, workdir, evs, args.batch, reconcile))
                    print(f"run {r + 1} {'with' if reconcile else 'without'} reconciliation:"
                          f" {rates[reconcile][-1]:,.0f} events/s", flush=True)  # fmt: skip
    finally:
        if pg is not None:
            pg.stop()
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"\n{args.store}, {args.events:,} events in batches of {args.batch}, two"
          f" {LINES:,}-line manifests loaded, median of {args.runs}:")  # fmt: skip
    print(f"  without reconciliation: {off:,.0f} events/s (baseline)")
    print(f"  with reconciliation:    {on:,.0f} events/s = {on / off:.2f}x the baseline")


if __name__ == "__main__":
    main()
