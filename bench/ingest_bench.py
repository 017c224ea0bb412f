"""Gateway ingest benchmark against the raw paho ceiling measured in the same run.

Each case gets its own mosquitto (bench config: no persistence, unlimited queues) and a fresh
store, and runs `dockscan gateway run` as a real process. The generator is `mosquitto_pub -l`
per simulated station (see loadgen.py). Figures: committed events/s, arrival→commit p50/p99,
gateway CPU per event and peak RSS; the raw ceiling is a paho subscriber that only counts
QoS 1 messages from the same generator; then publish→commit latency at a paced rate, a long
run's memory profile, and two workers on a $share subscription.

Example: .venv/bin/python bench/ingest_bench.py --events 60000 --runs 3 --long 1000000
"""

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import loadgen  # noqa: E402

from tests.support.broker import Mosquitto, wait_for  # noqa: E402

SITE = "BENCH"
NOTES = "\n## Notes"  # hand-written text after this heading survives a rerun
BROKER_CONF = """allow_anonymous true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 1000
set_tcp_nodelay true
log_type error
log_type warning
"""


# name: (label, gateway workers (0 = raw counter), MQTT protocol, the raw case it is compared to)
CASES = {
    "raw": ("raw paho subscriber (counts only), MQTT 5", 0, "5", "raw"),
    "gw1": ("gateway, 1 process, MQTT 5", 1, "5", "raw"),
    "gw2": ("gateway, 2 workers on $share, MQTT 5", 2, "5", "raw"),
    "raw-311": ("raw paho subscriber (counts only), MQTT 3.1.1", 0, "3.1.1", "raw-311"),
    "gw1-311": ("gateway, 1 process, MQTT 3.1.1", 1, "3.1.1", "raw-311"),
}


def proc_tree(pid: int) -> list[int]:
    """Return pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return out


def proc_status(pid: int, key: str) -> int:
    """Return a kB field (VmRSS, VmHWM) of /proc/PID/status, 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds of a process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100 * len(values)))] if values else float("nan")


class GatewayRun:
    """A broker plus `dockscan gateway run` with a fresh store, for one measured case."""

    def __init__(self, workdir: Path, workers: int = 1, **gateway: object) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "broker.conf.in"
        conf.write_text(BROKER_CONF)
        self.broker = Mosquitto(workdir / "broker", conf=conf).start()
        self.db = workdir / "gw.db"
        protocol = gateway.pop("protocol", "5")
        settings = {"database": str(self.db), **gateway}
        lines = ["[site]", f'id = "{SITE}"', "[broker]", f'url = "{self.broker.url}"']
        lines += [f'protocol = "{protocol}"', "[gateway]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        self.config = workdir / "site.toml"
        self.config.write_text("\n".join(lines) + "\n")
        argv = [sys.executable, "-m", "dockscan", "-q", "gateway", "run", "-c", str(self.config)]
        self.log = open(workdir / "gateway.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*argv, f"--workers={workers}"], stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for(lambda: self.counter("broker_connected") >= 1, 20, what="gateway connected")
        if workers > 1:
            wait_for(lambda: len(proc_tree(self.proc.pid)) > workers, 10, what="workers")
            time.sleep(1.0)  # let the second worker subscribe too
        self.peak_kb: dict[int, int] = {}
        self.rss_samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def counter(self, name: str) -> float:
        """Return a counter from the store (0 if absent)."""
        try:
            with sqlite3.connect(self.db, timeout=5) as conn:
                row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            conn.close()
        except sqlite3.Error:
            return 0.0
        return row[0] if row else 0.0

    def _sample(self) -> None:
        """Record the ingest processes' RSS once a second, and their peaks."""
        start = time.monotonic()
        while not self._stop.wait(1.0):
            total = 0
            for pid in proc_tree(self.proc.pid):
                self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), proc_status(pid, "VmHWM"))
                total += proc_status(pid, "VmRSS")
            self.rss_samples.append((time.monotonic() - start, total))

    def wait_committed(self, n: int, timeout: float) -> None:
        """Wait until n events are committed."""
        wait_for(lambda: self.counter("events_ingested_total") >= n, timeout, 0.25, "commits")

    def finish(self) -> dict:
        """Collect CPU and RSS, stop everything, and return the store's timing figures."""
        pids = proc_tree(self.proc.pid)
        cpu = sum(cpu_seconds(p) for p in pids)
        for pid in pids:
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), proc_status(pid, "VmHWM"))
        self._stop.set()
        self._sampler.join()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()
        self.broker.stop()
        with sqlite3.connect(self.db) as conn:
            first, last, n = conn.execute(
                "SELECT min(received_ms), max(committed_ms), count(*) FROM parcels"
            ).fetchone()
            waits = [r[0] for r in conn.execute("SELECT committed_ms - received_ms FROM parcels")]
            e2e = [r[0] for r in conn.execute("SELECT committed_ms - ts_ms FROM parcels")]
            batches = conn.execute("SELECT value FROM counters WHERE name='batches_total'")
            batches = batches.fetchone()[0]
        conn.close()
        peaks = sorted(self.peak_kb.values(), reverse=True)
        secs = max(1e-3, (last - first) / 1000)
        return {
            "rows": n,
            "seconds": secs,
            "per_s": n / secs,
            "wait_p50": pct(waits, 50),
            "wait_p99": pct(waits, 99),
            "e2e_p50": pct(e2e, 50),
            "e2e_p99": pct(e2e, 99),
            "batches": batches,
            "cpu_us": cpu / max(1, n) * 1e6,
            "peak_mb": peaks[0] / 1024 if peaks else 0,
            "peak_mb_all": sum(peaks) / 1024,
        }


def raw_ceiling(
    workdir: Path, events: int, stations: int, protocol: str, paced_rate: float = 0
) -> dict:
    """Count QoS 1 messages with a bare paho subscriber fed by the same generator.

    With `paced_rate`, the paced paho publisher feeds it instead and publish→arrival
    latency is measured (the transport's share of the gateway's publish→commit latency).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "broker.conf.in"
    conf.write_text(BROKER_CONF)
    broker = Mosquitto(workdir / "broker", conf=conf).start()
    try:
        sub = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "bench" / "loadgen.py"),
                "count",
                str(broker.port),
                str(events),
                SITE,
                protocol,
                *(["latency"] if paced_rate else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sub.stdout and sub.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        if paced_rate:
            loadgen.paced(broker.port, SITE, stations, paced_rate, events / paced_rate)
        else:
            loadgen.blast(broker.port, SITE, stations, events)
        out = json.loads(sub.stdout.readline())
        sub.wait(30)
        sub.stdout.close()
    finally:
        broker.stop()
    secs = out["last"] - out["first"]
    lat = out["latency_ms"]
    return {
        "e2e_p50": pct(lat, 50),
        "e2e_p99": pct(lat, 99),
        "rows": out["count"],
        "seconds": secs,
        "per_s": out["count"] / secs,
        "cpu_us": out["cpu_s"] / out["count"] * 1e6,
    }


def blast_case(workdir: Path, events: int, stations: int, workers: int, v311: bool) -> dict:
    """Blast events at a gateway with `workers` processes and measure it."""
    run = GatewayRun(workdir, workers=workers, protocol="3.1.1" if v311 else "5")
    loadgen.blast(run.broker.port, SITE, stations, events)
    run.wait_committed(events, 300)
    return run.finish()


def paced_case(workdir: Path, rate: float, secs: float, stations: int, idle: bool) -> dict:
    """Publish at a fixed rate from paho and measure publish→commit latency."""
    run = GatewayRun(workdir, flush_when_idle=idle)
    n = loadgen.paced(run.broker.port, SITE, stations, rate, secs)
    run.wait_committed(n, 60)
    return run.finish()


def long_case(workdir: Path, events: int, stations: int, chunk: int) -> dict:
    """Ingest many events in chunks and keep the RSS profile."""
    run = GatewayRun(workdir)
    sent = 0
    while sent < events:
        n = min(chunk, events - sent)
        loadgen.blast(run.broker.port, SITE, stations, n, first_seq=sent // stations)
        sent += n
        run.wait_committed(sent, 600)
    samples = list(run.rss_samples)
    out = run.finish()
    out["rss"] = samples
    return out


def median_of(runs: list[dict], key: str) -> tuple[float, float, float]:
    """Return median, min and max of one figure over runs."""
    vals = [r[key] for r in runs]
    return statistics.median(vals), min(vals), max(vals)


def main() -> None:
    """Run every case and write bench/results/gateway.md."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--paced-secs", type=float, default=20)
    ap.add_argument("--long", type=int, default=200_000, help="events in the memory run (0: skip)")
    ap.add_argument("--cases", default=",".join(CASES), help="blast cases to run, comma-separated")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "gateway.md"))
    args = ap.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in args.cases.split(",")}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        for r in range(args.runs):
            for case in results:
                work = Path(tmp) / f"{case}-{r}"
                _, workers, protocol, _ = CASES[case]
                if not workers:
                    res = raw_ceiling(work, args.events, args.stations, protocol)
                else:
                    res = blast_case(work, args.events, args.stations, workers, protocol == "3.1.1")
                results[case].append(res)
                print(case, r, {k: round(v, 2) for k, v in res.items()}, flush=True)
        n_paced = int(args.rate * args.paced_secs)
        paced_raw = raw_ceiling(Path(tmp) / "paced-raw", n_paced, args.stations, "5", args.rate)
        print("paced raw", paced_raw, flush=True)
        paced = {}
        for idle in (True, False):
            paced[idle] = paced_case(
                Path(tmp) / f"paced-{idle}", args.rate, args.paced_secs, args.stations, idle
            )
            print("paced idle" if idle else "paced", paced[idle], flush=True)
        long = (
            long_case(Path(tmp) / "long", args.long, args.stations, 50_000) if args.long else None
        )
        if long:
            print("long", {k: v for k, v in long.items() if k != "rss"}, flush=True)
    load = (load_before, os.getloadavg())
    out = Path(args.out)
    notes = out.read_text().partition(NOTES)[2] if out.exists() else ""
    out.write_text(
        report(args, results, paced_raw, paced, long, load) + (NOTES + notes if notes else "")
    )
    print(f"wrote {args.out}")


def report(
    args: argparse.Namespace,
    results: dict,
    paced_raw: dict,
    paced: dict,
    long: dict | None,
    load: tuple,
) -> str:
    """Render the results as Markdown."""
    lines = [
        "# Gateway ingest benchmark",
        "",
        f"Command: `.venv/bin/python bench/ingest_bench.py --events {args.events} --stations "
        f"{args.stations} --runs {args.runs} --rate {args.rate:g} --paced-secs "
        f"{args.paced_secs:g} --long {args.long}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}. Generator: "
        f"{args.stations} x `mosquitto_pub -l -q 1` (C), one per simulated station, on the same "
        "box. Each case has its own mosquitto (no persistence, unlimited queues) and store. "
        f"Medians of the runs, (min-max). Load average before/after: {load[0][0]:.1f} / "
        f"{load[1][0]:.1f} (other work on the box shares the cores).",
        "",
        "| case | events/s | ratio to raw (same protocol) | arrival→commit p50 / p99 ms |"
        " CPU µs/event | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for case, runs in results.items():
        label, workers, _, baseline = CASES[case]
        med, lo, hi = median_of(runs, "per_s")
        base = results.get(baseline)
        ratio = med / median_of(base, "per_s")[0] if base else float("nan")
        lat = rss = "-"
        if workers:
            lat = f"{median_of(runs, 'wait_p50')[0]:.0f} / {median_of(runs, 'wait_p99')[0]:.0f}"
            rss = f"{median_of(runs, 'peak_mb')[0]:.0f}"
        if workers > 1:
            rss += f" per worker ({median_of(runs, 'peak_mb_all')[0]:.0f} all)"
        lines.append(
            f"| {label} | {med:,.0f} ({lo:,.0f}-{hi:,.0f}) | {ratio:.2f} | {lat} | "
            f"{median_of(runs, 'cpu_us')[0]:.0f} | {rss} |"
        )
    lines += [
        "",
        f"Paced {args.rate:g} events/s for {args.paced_secs:g} s from one paho publisher (`ts` set "
        "at publish), publish→commit from the store's columns:",
        "",
        "| consumer | p50 ms | p99 ms | batches | CPU µs/event |",
        "|---|---|---|---|---|",
        f"| raw paho subscriber (publish→arrival, no store) | {paced_raw['e2e_p50']:.1f} | "
        f"{paced_raw['e2e_p99']:.1f} | - | {paced_raw['cpu_us']:.0f} |",
    ]
    for idle, res in paced.items():
        policy = "commit when idle (default)" if idle else "size/time only (batch_ms 50)"
        name = f"gateway, {policy}"
        lines.append(
            f"| {name} | {res['e2e_p50']:.0f} | {res['e2e_p99']:.0f} | "
            f"{res['batches']:.0f} | {res['cpu_us']:.0f} |"
        )
    if long:
        rss = long["rss"]
        marks = [rss[int(i * (len(rss) - 1) / 4)] for i in range(5)] if rss else []
        prof = ", ".join(f"{t:.0f} s: {kb / 1024:.0f} MB" for t, kb in marks)
        lines += [
            "",
            f"Long run: {long['rows']:,} events in chunks of 50,000, "
            f"{long['per_s']:,.0f} events/s, peak RSS {long['peak_mb']:.0f} MB; "
            f"RSS over time: {prof}.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
