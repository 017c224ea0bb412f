"""The whole gateway's ingest with reconciliation on against the same ingest with it off.

Each case is a real `dockscan gateway run` on a fresh store (SQLite, or with `--store postgres`
a database on the bench's private PostgreSQL) and a bench Mosquitto (as in ingest_bench.py),
with two 100,000-line manifests imported first through `dockscan gateway manifest import`. The
same blast of events follows (distinct S10 ids, 90 % of them on the flight's manifest, a few
declared 1 kg off), from `mosquitto_pub` per station. With reconciliation on, the verdicts are
decided by the gateway's reconciler process: the case lasts until the last verdict is stored
(or the last parcel, whichever is later), so a reconciler falling behind shows in the rate.
Figures: events/s, CPU per event of the ingest process and of the reconciler, verdict lag
(decided_ms - committed_ms), the median of `--runs` alternating runs, and the ratio on/off.

    .venv/bin/python bench/reconcile_ingest_bench.py --events 40000 --runs 3 [--store postgres]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import loadgen  # noqa: E402
from ingest_bench import SITE, GatewayRun, cpu_seconds, pct, proc_tree, start_postgres  # noqa: E402

from dockscan.codes import s10_with_check  # noqa: E402
from tests.support.broker import wait_for  # noqa: E402

LINES = 100_000


def manifests(workdir: Path, stations: int, events: int) -> list[tuple[Path, list[str]]]:
    """Write the flight (most event codes plus filler) and a MAWB (filler only)."""
    listed = []
    for k in range(stations):
        count = events // stations + (1 if k < events % stations else 0)
        for seq in range(count):
            if seq % 10 != 9:  # every tenth parcel is on no manifest: UNEXPECTED
                kg = 2.375 + (1.0 if seq % 20 == 3 else 0.0)  # a few declared off
                listed.append(f"{loadgen.event_code(k, seq)},{kg:.3f}")
    filler = (f"{s10_with_check('RR', 70_000_000 + i, 'CN')},1.000" for i in range(2 * LINES))
    flight = listed + [next(filler) for _ in range(max(0, LINES - len(listed)))]
    mawb = [next(filler) for _ in range(LINES)]
    units = {"flight.csv": ["--flight", "DS642", "--flight-date", "2026-12-04"],
             "mawb.csv": ["--mawb", "176-12345675"]}  # fmt: skip
    out = []
    for (name, unit), rows in zip(units.items(), (flight, mawb), strict=True):
        path = workdir / name
        path.write_text("tracking_id,declared_kg\n" + "\n".join(rows) + "\n")
        out.append((path, unit))
    return out


def case(workdir: Path, files: list, stations: int, events: int, reconcile: bool, pg) -> dict:
    """Run one gateway with reconciliation on or off; return its figures."""
    run = GatewayRun(
        workdir, pg=pg, extra_toml=f"[reconcile]\nenabled = {str(reconcile).lower()}\n"
    )
    try:
        config = workdir / "site-gw-1.toml"
        for path, unit in files:
            subprocess.run([sys.executable, "-m", "dockscan", "-q", "gateway", "manifest",
                            "import", str(path), "-c", str(config), *unit],
                           check=True, capture_output=True)  # fmt: skip
        ingest_before = cpu_seconds(run.proc.pid)
        others_before = {p: cpu_seconds(p) for p in proc_tree(run.proc.pid)[1:]}
        server_before = run._server_cpu()
        loadgen.blast(run.port, SITE, stations, events, codes=True)
        run.wait_committed(events, 600)
        if reconcile:
            wait_for(lambda: run.store.rows("SELECT count(*) FROM verdicts")[0][0] >= events,
                     600, 0.25, "verdicts")  # fmt: skip
        ingest_cpu = cpu_seconds(run.proc.pid) - ingest_before
        others = proc_tree(run.proc.pid)[1:]
        reconciler_cpu = sum(cpu_seconds(p) - others_before.get(p, 0.0) for p in others)
        server = run._server_cpu()
        server_cpu = sum(t - server_before.get(p, 0.0) for p, t in server.items())
        verdicts = run.store.rows("SELECT match, count(*) FROM verdicts GROUP BY 1")
        last_verdict = run.store.rows("SELECT max(decided_ms) FROM verdicts")[0][0]
        lags = [r[0] for r in run.store.rows(
            "SELECT v.decided_ms - p.committed_ms FROM verdicts v JOIN parcels p"
            " ON p.event_id = v.event_id")]  # fmt: skip
    except BaseException:
        run.stop()
        raise
    figures = run.finish()
    first, last = run.store.rows("SELECT min(received_ms), max(committed_ms) FROM parcels")[0]
    seconds = max(1e-3, (max(last, last_verdict or 0) - first) / 1000)
    figures["per_s"] = figures["rows"] / seconds  # until the last verdict too
    figures["verdicts"] = dict(verdicts)
    figures["ingest_us"] = ingest_cpu / events * 1e6
    figures["reconciler_us"] = reconciler_cpu / events * 1e6
    figures["db_cpu_us"] = server_cpu / events * 1e6  # the blast only, not the imports
    figures["lag_p50"], figures["lag_p99"] = pct(lags, 50), pct(lags, 99)
    return figures


def main() -> None:
    """Alternate off/on runs; print the medians and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    rates: dict[bool, list[dict]] = {False: [], True: []}
    pg = start_postgres() if args.store == "postgres" else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = manifests(Path(tmp), args.stations, args.events)
            for r in range(args.runs):
                for reconcile in (False, True):
                    got = case(Path(tmp) / f"run{r}-{int(reconcile)}", files, args.stations,
                               args.events, reconcile, pg)  # fmt: skip
                    rates[reconcile].append(got)
                    print(f"run {r + 1} reconciliation {'on ' if reconcile else 'off'}:"
                          f" {got['per_s']:,.0f} events/s, CPU/event ingest"
                          f" {got['ingest_us']:.0f} us + reconciler {got['reconciler_us']:.0f} us"
                          f" (PostgreSQL server {got['db_cpu_us']:.0f} us),"
                          f" verdict lag p50/p99 {got['lag_p50']:.0f}/{got['lag_p99']:.0f} ms,"
                          f" verdicts {got['verdicts'] or '-'}", flush=True)  # fmt: skip
    finally:
        if pg is not None:
            pg.stop()

    def med(on: bool, key: str) -> float:
        return statistics.median(g[key] for g in rates[on])

    off, on = med(False, "per_s"), med(True, "per_s")
    store = "PostgreSQL" if pg is not None else "SQLite"
    print(f"\n{store}, {args.events:,} events from {args.stations} stations, two {LINES:,}-line"
          f" manifests loaded, median of {args.runs}:")  # fmt: skip
    print(f"  reconciliation off: {off:,.0f} events/s, ingest {med(False, 'ingest_us'):.0f} us"
          " CPU/event (baseline)")  # fmt: skip
    print(f"  reconciliation on:  {on:,.0f} events/s (to the last verdict), ingest"
          f" {med(True, 'ingest_us'):.0f} us + reconciler {med(True, 'reconciler_us'):.0f} us"
          f" CPU/event, verdict lag p50/p99 {med(True, 'lag_p50'):.0f}/"
          f"{med(True, 'lag_p99'):.0f} ms = {on / off:.2f}x the baseline")  # fmt: skip
    ratios = sorted(a["per_s"] / b["per_s"] for a, b in zip(rates[True], rates[False], strict=True))
    print(f"  per-run ratios (on/off of the same run): {', '.join(f'{x:.2f}' for x in ratios)};"
          f" median {statistics.median(ratios):.2f}")  # fmt: skip
    cpu = statistics.median(g["ingest_us"] for g in rates[False]) / med(True, "ingest_us")
    print(f"  the ingest process's CPU per event, off/on: {cpu:.2f}x (the ratio if the reconciler"
          " has a core to itself)")  # fmt: skip


if __name__ == "__main__":
    main()
