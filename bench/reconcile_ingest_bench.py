"""The whole gateway's ingest with reconciliation on against the same ingest with it off.

Each case is a real `dockscan gateway run` on a fresh SQLite store and a bench Mosquitto (as in
ingest_bench.py), with two 100,000-line manifests imported first through
`dockscan gateway manifest import`. The same blast of events follows (distinct S10 ids, 90 % of
them on the flight's manifest, a few declared 1 kg off), from `mosquitto_pub` per station.
Figures: committed events/s and gateway CPU per event, the median of `--runs` alternating runs,
and the ratio on/off.

    .venv/bin/python bench/reconcile_ingest_bench.py --events 40000 --runs 3
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
from ingest_bench import SITE, GatewayRun  # noqa: E402

from dockscan.codes import s10_with_check  # noqa: E402

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


def case(workdir: Path, files: list, stations: int, events: int, reconcile: bool) -> dict:
    """Run one gateway with reconciliation on or off; return its figures."""
    run = GatewayRun(workdir, extra_toml=f"[reconcile]\nenabled = {str(reconcile).lower()}\n")
    try:
        config = workdir / "site-gw-1.toml"
        for path, unit in files:
            subprocess.run([sys.executable, "-m", "dockscan", "-q", "gateway", "manifest",
                            "import", str(path), "-c", str(config), *unit],
                           check=True, capture_output=True)  # fmt: skip
        loadgen.blast(run.port, SITE, stations, events, codes=True)
        run.wait_committed(events, 600)
        verdicts = run.store.rows("SELECT match, count(*) FROM verdicts GROUP BY 1")
    except BaseException:
        run.stop()
        raise
    figures = run.finish()
    figures["verdicts"] = dict(verdicts)
    return figures


def main() -> None:
    """Alternate off/on runs; print the medians and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rates: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        files = manifests(Path(tmp), args.stations, args.events)
        for r in range(args.runs):
            for reconcile in (False, True):
                got = case(Path(tmp) / f"run{r}-{int(reconcile)}", files, args.stations,
                           args.events, reconcile)  # fmt: skip
                rates[reconcile].append(got)
                print(f"run {r + 1} reconciliation {'on ' if reconcile else 'off'}:"
                      f" {got['per_s']:,.0f} events/s, {got['cpu_us']:.0f} us CPU/event,"
                      f" verdicts {got['verdicts'] or '-'}", flush=True)  # fmt: skip
    off = statistics.median(g["per_s"] for g in rates[False])
    on = statistics.median(g["per_s"] for g in rates[True])
    cpu_off = statistics.median(g["cpu_us"] for g in rates[False])
    cpu_on = statistics.median(g["cpu_us"] for g in rates[True])
    print(f"\nSQLite, {args.events:,} events from {args.stations} stations, two {LINES:,}-line"
          f" manifests loaded, median of {args.runs}:")  # fmt: skip
    print(f"  reconciliation off: {off:,.0f} events/s, {cpu_off:.0f} us CPU/event (baseline)")
    print(f"  reconciliation on:  {on:,.0f} events/s, {cpu_on:.0f} us CPU/event"
          f" = {on / off:.2f}x the baseline")  # fmt: skip


if __name__ == "__main__":
    main()
