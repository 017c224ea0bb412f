"""Manifest close-out benchmark: the report of a 100,000-line manifest with 100,000 parcels.

In one run, on a fresh store (SQLite, and with --store sqlite,postgres also a throwaway
PostgreSQL with fsync on, as bench/ingest_bench.py starts it):
  1. imports a --lines line MAWB manifest (S10 ids, declared weights, HAWB, a bag per 250 lines)
     through gateway.manifests.importer, and holds 0.2% of its ids;
  2. writes --parcels parcels through Store with a Reconciler in batches of 2,000: 93% first
     sightings of listed ids (so 7% of the lines stay missing; 1% weigh over, 1% under), 2%
     repeat sightings, 5% ids on no manifest;
  3. times, --runs times each, with the median: the baseline (a plain count over the same
     lines-to-verdicts join, and over the UNEXPECTED verdicts in the window), report() of the
     open manifest, progress() of every open manifest, the CSV and JSON of the report, close()
     (the manifest is reopened between runs, outside the timing), and report() of the closed
     manifest (which also joins the parcels, to leave out those stored after the close).

Example: .venv/bin/python bench/closeout_bench.py --store sqlite,postgres --runs 5
"""

import argparse
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockscan.codes import CodeClassifier, s10_with_check  # noqa: E402
from dockscan.config import ManifestsConfig, parse_config  # noqa: E402
from dockscan.events import Barcode, ParcelEvent, Weight  # noqa: E402
from dockscan.ids import utcnow, uuid7  # noqa: E402
from gateway.clock import epoch_ms, now_ms  # noqa: E402
from gateway.manifests import closeout  # noqa: E402
from gateway.manifests.importer import import_manifest  # noqa: E402
from gateway.manifests.model import make_header  # noqa: E402
from gateway.reconcile.matcher import Reconciler  # noqa: E402
from gateway.store import Batch, Store, open_db  # noqa: E402
from tests.support.postgres import Postgres  # noqa: E402

MAWB = "176-12345675"
MANIFEST_ID = f"mawb:{MAWB}"
BASELINE_SQL = (
    "SELECT count(*), count(v.event_id) FROM manifest_lines l"
    " LEFT JOIN verdicts v ON v.tracking_id = l.tracking_id"
    " WHERE l.manifest_id = ? AND l.removed_ms IS NULL"
)
BASELINE_UNEXPECTED_SQL = (
    "SELECT count(*) FROM verdicts WHERE match = 'UNEXPECTED' AND ts_ms >= ? AND ts_ms <= ?"
)


def s10(i: int) -> str:
    """Return the i-th valid S10 id."""
    return s10_with_check("RR", 30_000_000 + i, "CN")


def declared(i: int) -> float:
    """Return line i's declared weight."""
    return round(0.5 + (i % 40) / 10, 3)


def event(code: str, kg: float, t0: Any, at_ms: int) -> ParcelEvent:
    """Return an OK parcel event of `code` weighing `kg`."""
    weight = Weight(value=kg, device_value=f"{kg:.3f}", device_unit="kg", stable=True, raw="",
                    device="scale")  # fmt: skip
    return ParcelEvent(
        event_id=uuid7(), seq=at_ms, site="hub", dock="d1", station=f"st{at_ms % 4 + 1}",
        ts=t0 + timedelta(milliseconds=at_ms), outcome="OK", weight=weight, agent_version="bench",
        barcodes=[Barcode(text=code, symbology="code128", source="cam", kind="upu_s10",
                          check_ok=True)],
    )  # fmt: skip


def parcels(lines: int, count: int, t0: Any) -> list[ParcelEvent]:
    """Return the parcels: first sightings, repeats, ids on no manifest (see the docstring)."""
    firsts, repeats = int(count * 0.93), int(count * 0.02)
    out = []
    for i in range(min(firsts, lines)):
        kg = declared(i)
        if i % 100 == 1:
            kg += 2.0  # over
        elif i % 100 == 2:
            kg = max(kg - 0.45, 0.01)  # under (tolerance 0.2 kg + the scale's error)
        out.append(event(s10(i), kg, t0, len(out)))
    out += [event(s10(i * 7 % firsts), declared(i * 7 % firsts), t0, len(out) + 10_000_000)
            for i in range(repeats)]  # fmt: skip
    out += [event(s10(10_000_000 + i), 1.0, t0, len(out)) for i in range(count - len(out))]
    return out


def build(db: str, csv_path: Path, lines: int, count: int) -> float:
    """Create the store, import the manifest, hold some ids, write the parcels; return seconds."""
    start = time.perf_counter()
    stations = [{"id": f"st{i}", "dock": "d1"} for i in range(1, 5)]
    cfg = parse_config({"site": {"id": "hub"}, "gateway": {"database": db}, "stations": stations})
    t0 = utcnow().replace(microsecond=0) - timedelta(days=1)
    with open(csv_path, "w") as fh:
        fh.write("tracking_id,declared_kg,hawb,bag\n")
        for i in range(lines):
            fh.write(f"{s10(i)},{declared(i)},H{i // 4:09d},CN-BAG-{i // 250:06d}\n")
    with Store(db, reconciler=Reconciler(cfg, CodeClassifier())) as store:
        import_manifest(store.conn, csv_path, make_header(mawb=MAWB),
                        ManifestsConfig(max_file_mb=1024), CodeClassifier(),
                        now=epoch_ms(t0) - 1000)  # fmt: skip
        store.conn.executemany(
            "INSERT INTO holds (tracking_id, reason, actor, set_ms, source)"
            " VALUES (?, 'customs_referral', 'bench', 0, 'cli')",
            [(s10(i),) for i in range(3, lines, 500)],
        )
        events = parcels(lines, count, t0)
        for i in range(0, len(events), 2000):
            part = events[i : i + 2000]
            store.write(Batch(parcels=[(e, e.to_json(), 0) for e in part]))
    return time.perf_counter() - start


def timed(runs: int, fn: Callable[[], Any], before: Callable[[], Any] | None = None) -> float:
    """Return the median seconds of `runs` calls of fn (`before` runs untimed ahead of each)."""
    took = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        fn()
        took.append(time.perf_counter() - start)
    return statistics.median(took)


def measure(db: str, csv_path: Path, args: argparse.Namespace) -> list[tuple[str, float]]:
    """Build one store, print its facts and plan, return (step, median seconds) rows."""
    built = build(db, csv_path, args.lines, args.parcels)
    conn: Any = open_db(db)
    created = conn.execute("SELECT created_ms FROM manifests").fetchone()[0]
    verdicts = conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    print(f"built in {built:.1f} s: {args.lines:,} lines, {verdicts:,} verdicts")
    if conn.dialect == "sqlite":
        sql = closeout.LINES_SQL.format(committed="NULL", stored="", verdict=closeout.VERDICT)
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (1 << 62, MANIFEST_ID)):
            print("lines plan:", row[-1])
        sql = closeout.UNEXPECTED_SQL.format(committed="NULL", stored="", verdict=closeout.VERDICT)
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (created, 1 << 62)):
            print("unexpected plan:", row[-1])

    def baseline() -> None:
        conn.execute(BASELINE_SQL, (MANIFEST_ID,)).fetchone()
        conn.execute(BASELINE_UNEXPECTED_SQL, (created, 1 << 62)).fetchone()

    def reopen() -> None:
        conn.execute("UPDATE manifests SET state = 'open', closed_ms = NULL, closed_by = NULL")
        conn.execute("DELETE FROM outbound WHERE kind = 'closeout'")

    def close() -> None:
        closeout.close(conn, MANIFEST_ID, "bench", now_ms(), "hub")

    def report() -> Any:
        return closeout.report(conn, MANIFEST_ID)

    found = report()
    steps: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = [
        ("baseline: count(*) over the same join + the unexpected window", baseline, None),
        ("report() of the open manifest", report, None),
        ("progress() of every open manifest", lambda: closeout.progress(conn), None),
        ("report_csv(), every row", lambda: sum(1 for _ in closeout.report_csv(found)), None),
        ("report_json()", lambda: closeout.report_json(found), None),
        ("close(): report + close-out event, one transaction", close, reopen),
        ("report() of the closed manifest (joins the parcels)", report, None),
    ]
    rows = [(name, timed(args.runs, fn, before)) for name, fn, before in steps]
    print(f"report: {found.counts()}")
    conn.close()
    return rows


def main() -> None:
    """Build each store, time each step, print the figures as a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--parcels", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--store", default="sqlite", help="sqlite, postgres or sqlite,postgres")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the PostgreSQL
    results: dict[str, list[tuple[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="closeout-bench-") as tmp:
        csv_path = Path(tmp) / "manifest.csv"
        for store in args.store.split(","):
            print(f"--- {store}")
            if store == "sqlite":
                results[store] = measure(str(Path(tmp) / "gw.db"), csv_path, args)
                continue
            pg = Postgres(fsync=True).start()
            try:
                results[store] = measure(pg.url(pg.create_database(), password=True),
                                         csv_path, args)  # fmt: skip
            finally:
                pg.destroy()
    stores = list(results)
    print("\n| step | " + " | ".join(f"{s} median s" for s in stores) + " |")
    print("|---|" + "---:|" * len(stores))
    for i, (name, _) in enumerate(results[stores[0]]):
        print(f"| {name} | " + " | ".join(f"{results[s][i][1]:.3f}" for s in stores) + " |")
    for s in stores:
        base, took = results[s][0][1], results[s][5][1]
        print(f"{s}: close() {took:.3f} s = {took / base:.1f}x the baseline (goal < 2 s)")


if __name__ == "__main__":
    main()
