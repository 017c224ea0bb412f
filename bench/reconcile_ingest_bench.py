"""The whole gateway's ingest with reconciliation on against the same ingest with it off.

Each case is a real `dockscan gateway run` on a fresh store (SQLite, or with `--store postgres`
a database on the bench's private PostgreSQL) and a bench Mosquitto (as in ingest_bench.py),
with two 100,000-line manifests imported first through `dockscan gateway manifest import`. The
same blast of events follows (distinct S10 ids, 90 % of them on the flight's manifest, a few
declared 1 kg off), from `mosquitto_pub` per station. With reconciliation on, the verdicts are
decided by the gateway's reconciler process: the case lasts until the last verdict is stored
(or the last parcel, whichever is later), so a reconciler falling behind shows in the rate.
Figures: events/s, CPU per event of the ingest process and of the reconciler, verdict lag
(decided_ms - committed_ms), the median of `--runs` runs of every case, and the ratios.

`--controls` adds two cases that split the cost of "on": reconciliation on with the reconciler
stopped (SIGSTOP) until every parcel is committed, so the ingest writes its queue rows but
nothing is judged beside it (the rate is to the last parcel; the verdicts are then awaited
untimed); and reconciliation off beside a pure-CPU process busy `--hog` of the time, no I/O,
as a reconciler-sized neighbour on the other core would be.

    .venv/bin/python bench/reconcile_ingest_bench.py --events 40000 --runs 3 [--controls]
        [--store postgres]
"""

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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


# What each case runs; `paused` and `hog` are controls that split the cost of "on".
CASES = {
    "off": "reconciliation off (baseline)",
    "on": "reconciliation on",
    "paused": "on, reconciler paused",
    "hog": "off, beside a CPU hog",
}
HOG = (
    "import sys, time\n"
    "busy = 0.005; idle = busy * (1 - float(sys.argv[1])) / float(sys.argv[1])\n"
    "while True:\n"
    "    end = time.perf_counter() + busy\n"
    "    while time.perf_counter() < end:\n"
    "        sum(range(200))\n"
    "    time.sleep(idle)\n"
)


def reconciler_pids(run: GatewayRun) -> list[int]:
    """Return the pids of the gateway's reconciler process (its `gateway reconcile` child)."""
    out = []
    for pid in proc_tree(run.proc.pid)[1:]:
        with contextlib.suppress(OSError):
            if b"reconcile" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
    return out


@contextlib.contextmanager
def control(run: GatewayRun, mode: str, hog: float) -> Iterator[None]:
    """Pause the reconciler (SIGSTOP) or run a CPU hog while the block runs."""
    if mode == "paused":
        pids = reconciler_pids(run)
        assert pids, "no reconciler process to pause"
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
    elif mode == "hog":
        proc = subprocess.Popen([sys.executable, "-c", HOG, str(hog)])
        try:
            yield
        finally:
            proc.kill()
            proc.wait()
    else:
        yield


def case(workdir: Path, files: list, stations: int, events: int, mode: str, pg, hog: float) -> dict:
    """Run one gateway in one of CASES; return its figures."""
    reconcile = mode in ("on", "paused")
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
        with control(run, mode, hog):
            loadgen.blast(run.port, SITE, stations, events, codes=True)
            run.wait_committed(events, 600)
            ingest_cpu = cpu_seconds(run.proc.pid) - ingest_before
        if reconcile:  # a paused reconciler judges now, outside the timed window
            wait_for(lambda: run.store.rows("SELECT count(*) FROM verdicts")[0][0] >= events,
                     600, 0.25, "verdicts")  # fmt: skip
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
    if mode == "on":  # until the last verdict too
        last = max(last, last_verdict or 0)
    figures["per_s"] = figures["rows"] / max(1e-3, (last - first) / 1000)
    figures["verdicts"] = dict(verdicts)
    figures["ingest_us"] = ingest_cpu / events * 1e6
    figures["reconciler_us"] = reconciler_cpu / events * 1e6
    figures["db_cpu_us"] = server_cpu / events * 1e6  # the blast only, not the imports
    figures["lag_p50"], figures["lag_p99"] = pct(lags, 50), pct(lags, 99)
    return figures


def main() -> None:
    """Run the cases in turn, `--runs` times; print the medians and the ratios to the baseline."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--controls", action="store_true",
                    help="also run the paused-reconciler and CPU-hog cases")  # fmt: skip
    ap.add_argument("--hog", type=float, default=0.3, help="the CPU hog's busy share (0-1)")
    args = ap.parse_args()
    modes = list(CASES) if args.controls else ["off", "on"]
    got: dict[str, list[dict]] = {mode: [] for mode in modes}
    pg = start_postgres() if args.store == "postgres" else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = manifests(Path(tmp), args.stations, args.events)
            for r in range(args.runs):
                for mode in modes:
                    one = case(Path(tmp) / f"run{r}-{mode}", files, args.stations, args.events,
                               mode, pg, args.hog)  # fmt: skip
                    got[mode].append(one)
                    print(f"run {r + 1} {CASES[mode]}: {one['per_s']:,.0f} events/s, CPU/event"
                          f" ingest {one['ingest_us']:.0f} us + reconciler"
                          f" {one['reconciler_us']:.0f} us (PostgreSQL server"
                          f" {one['db_cpu_us']:.0f} us), verdict lag p50/p99"
                          f" {one['lag_p50']:.0f}/{one['lag_p99']:.0f} ms,"
                          f" verdicts {one['verdicts'] or '-'}", flush=True)  # fmt: skip
    finally:
        if pg is not None:
            pg.stop()
    report(got, args)


def report(got: dict[str, list[dict]], args: argparse.Namespace) -> None:
    """Print each case's medians, its ratio to the baseline and the same-run ratios."""

    def med(mode: str, key: str) -> float:
        return statistics.median(g[key] for g in got[mode])

    store = "PostgreSQL" if args.store == "postgres" else "SQLite"
    print(f"\n{store}, {args.events:,} events from {args.stations} stations, two {LINES:,}-line"
          f" manifests loaded, median of {args.runs}:")  # fmt: skip
    off = med("off", "per_s")
    for mode in got:
        rate, ingest = med(mode, "per_s"), med(mode, "ingest_us")
        line = f"  {CASES[mode]:<30} {rate:>7,.0f} events/s = {rate / off:.2f}x"
        line += f", ingest {ingest:.0f} us"
        if mode == "on":
            line += (f" + reconciler {med(mode, 'reconciler_us'):.0f} us CPU/event, verdict lag"
                     f" p50/p99 {med(mode, 'lag_p50'):.0f}/{med(mode, 'lag_p99'):.0f} ms"
                     " (to the last verdict)")  # fmt: skip
        elif mode == "hog":
            line += f" CPU/event (the hog busy {args.hog:.0%} of the time)"
        else:
            line += " CPU/event"
        print(line)
        if mode != "off":
            pairs = zip(got[mode], got["off"], strict=True)
            ratios = sorted(a["per_s"] / b["per_s"] for a, b in pairs)
            print(f"    same-run ratios: {', '.join(f'{x:.2f}' for x in ratios)};"
                  f" median {statistics.median(ratios):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
