"""Store writes with reconciliation against the same writes without it, same run, same events.

Fresh stores get the same two 100,000-line manifests (a flight and a MAWB sharing no lines);
then the same batches of parcel events (90 % listed, 5 % unexpected, 5 % seen before) are
written through `gateway.store.Store`, alternating runs of three cases: without reconciliation
(the baseline), queued (what the ingest does: each parcel's sighting written to the verdict
queue in its transaction), and judged in the batch's transaction (queue and verdicts at once,
as the ingest did before the reconciler process). The queued case then times the reconciler's
side alone: the queue judged as the reconciler process does (SQLite: ahead of the writer lock).
This is the store's share only (no MQTT, no validation), so the ratios are lower bounds for the
whole gateway, whose other work is the same in every case.

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
from gateway.clock import now_ms
from gateway.manifests.importer import import_manifest
from gateway.manifests.model import make_header
from gateway.reconcile.matcher import Reconciler
from gateway.store import Batch, Store, transaction

LINES = 100_000
CASES = {"off": "without reconciliation", "queued": "queued for the reconciler",
         "judged": "judged in the transaction"}  # fmt: skip


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


def fresh_store(target: str, workdir: Path, cfg, case: str) -> Store:
    """Open a new store for a case with both manifests imported."""
    reconciler = Reconciler(cfg, CodeClassifier()) if case != "off" else None
    store = Store(target, reconciler=reconciler, judge=case == "judged")
    for name, first, header in (
        ("flight.csv", 0, make_header(flight="LH8400", flight_date="2026-11-27")),
        ("mawb.csv", LINES, make_header(mawb="176-12345675")),
    ):
        path = workdir / name
        if not path.exists():
            write_manifest(path, first)
        import_manifest(store.conn, path, header, cfg.manifests, CodeClassifier())
    return store


def run(target: str, workdir: Path, evs: list[ParcelEvent], batch: int, case: str) -> dict:
    """Write the events in batches (then judge the queue); return events per second of each."""
    cfg = parse_config({"site": {"id": "hub"}, "gateway": {"database": target}})
    store = fresh_store(target, workdir, cfg, case)
    payloads = [(e, e.to_json(), 0) for e in evs]
    out = {}
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(payloads), batch):
            store.write(Batch(parcels=payloads[i : i + batch]))
        out["write"] = len(evs) / (time.perf_counter() - start)
        out["write_us"] = (time.process_time() - cpu) / len(evs) * 1e6
        if case == "queued":
            cpu = time.process_time()
            out["judge"] = len(evs) / judge_queue(store)
            out["judge_us"] = (time.process_time() - cpu) / len(evs) * 1e6
        if case != "off":
            judged = store.conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]
            assert judged == len(evs), f"{judged} verdicts for {len(evs)} events"
    finally:
        store.close()
    return out


def judge_queue(store: Store) -> float:
    """Judge the whole queue as the reconciler process does; return the seconds it took."""
    conn, reconciler = store.conn, store.reconciler
    assert reconciler is not None
    if conn.dialect == "sqlite":
        conn.execute("PRAGMA synchronous = NORMAL")  # as the reconciler's connection
    start = time.perf_counter()
    while True:
        if conn.dialect == "sqlite":
            judged = reconciler.drain_ahead(conn)
        else:
            with transaction(conn):
                judged = reconciler.drain(conn, now_ms())
        if not judged:
            return time.perf_counter() - start


def main() -> None:
    """Run the cases alternately and print events/s and the ratios."""
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
    rates: dict[str, list[dict]] = {case: [] for case in CASES}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            for r in range(args.runs):
                for case in CASES:
                    if pg is not None:
                        target = pg.url(pg.create_database(), password=True)
                    else:
                        target = str(workdir / f"run{r}-{case}.db")
                    got = run(target, workdir, evs, args.batch, case)
                    rates[case].append(got)
                    extra = ""
                    if "judge" in got:
                        extra = (f", queue judged at {got['judge']:,.0f} events/s,"
                                 f" {got['judge_us']:.1f} us CPU/event")  # fmt: skip
                    print(f"run {r + 1} {CASES[case]}: {got['write']:,.0f} events/s,"
                          f" {got['write_us']:.1f} us CPU/event{extra}", flush=True)  # fmt: skip
    finally:
        if pg is not None:
            pg.stop()

    def med(case: str, key: str = "write") -> float:
        return statistics.median(g[key] for g in rates[case])

    off, off_us = med("off"), med("off", "write_us")
    print(f"\n{args.store}, {args.events:,} events in batches of {args.batch}, two"
          f" {LINES:,}-line manifests, median of {args.runs} (rate; CPU per event):")  # fmt: skip
    print(f"  without reconciliation:    {off:,.0f} events/s, {off_us:.1f} us (baseline)")
    for case in ("queued", "judged"):
        us = med(case, "write_us")
        print(f"  {CASES[case] + ':':27s}{med(case):,.0f} events/s = {med(case) / off:.2f}x,"
              f" {us:.1f} us = {off_us / us:.2f}x")  # fmt: skip
    print(f"  the queue judged as the reconciler does: {med('queued', 'judge'):,.0f} events/s,"
          f" {med('queued', 'judge_us'):.1f} us CPU/event")  # fmt: skip


if __name__ == "__main__":
    main()
