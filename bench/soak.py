"""Soak: many stations at a steady rate through the real chain; loss, duplicates, memory, latency.

Runs N stations' edge agents (synthetic scan+weight pairs, real outbox and publisher; 25 agents per
host process, since 100 Python processes do not fit 2 cores), one Mosquitto and one gateway as
real processes, then checks every station's seqs in the store and reports RSS at start and end
and the capture-to-commit latency. Not part of CI (the full run takes ten minutes).

    .venv/bin/python bench/soak.py                         # 100 stations x 10/s x 10 min
    .venv/bin/python bench/soak.py --stations 10 --minutes 1   # a quick look
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.broker import Mosquitto, wait_for  # noqa: E402
from tests.support.chain import Chain, read_sql  # noqa: E402


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory(chain: Chain, hosts: list[subprocess.Popen]) -> tuple[float, float, float]:
    """Return (gateway RSS, median edge host RSS, total edge RSS) in MiB."""
    gw = rss_mb(chain.procs.children["gateway"].pid)
    edges = [rss_mb(p.pid) for p in hosts]
    return gw, statistics.median(edges), sum(edges)


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> None:
    """Run the soak and print its figures as a Markdown table row set."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="events/s per station")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--per-host", type=int, default=25, help="agents per edge host process")
    args = ap.parse_args()
    count = int(args.rate * args.minutes * 60)
    work = Path(tempfile.mkdtemp(prefix="dockscan-soak-"))
    broker = Mosquitto(work / "broker").start()
    chain = Chain(
        work, broker, stations=args.stations, keepalive=15, ack_timeout=10, telemetry_s=10
    )
    hosts: list[subprocess.Popen] = []
    try:
        chain.start_gateway()
        chain.wait_gateway()
        for i in range(0, args.stations, args.per_host):
            group = chain.ids[i : i + args.per_host]
            hosts.append(subprocess.Popen(
                [sys.executable, str(REPO / "bench" / "soak_host.py"), str(chain.config),
                 str(count), str(args.rate), *group]))  # fmt: skip
        online = "SELECT count(*) FROM stations WHERE state='online'"
        wait_for(
            lambda: (read_sql(chain.db, online) or [(0,)])[0][0] == args.stations, 120, 0.5, "up"
        )
        time.sleep(10)
        start_mem = memory(chain, hosts)
        t0 = time.monotonic()
        samples: list[tuple[float, tuple[float, float, float]]] = []

        def all_accepted() -> bool:
            """Sample memory every 60 s while the stream runs; True when every station is done."""
            if not samples or time.monotonic() - t0 - samples[-1][0] >= 60:
                samples.append((time.monotonic() - t0, memory(chain, hosts)))
            return all(chain.accepted(sid) >= count for sid in chain.ids)

        wait_for(all_accepted, args.minutes * 60 * 2 + 120, 1.0, "every station's stream")
        for sid in chain.ids:
            chain.wait_delivered(sid, count, timeout=300)
        elapsed = time.monotonic() - t0
        end_mem = memory(chain, hosts)
        lost = dupes = 0
        for sid in chain.ids:
            seqs = chain.stored(sid)
            dupes += len(seqs) - len(set(seqs))
            lost += len(set(range(1, count + 1)) - set(seqs))
        lat = [r[0] for r in read_sql(chain.db, "SELECT committed_ms - ts_ms FROM parcels")]
        total = args.stations * count
        print(
            f"| stations x rate x duration | {args.stations} x {args.rate}/s x {args.minutes} min |"
        )
        print(f"| events produced / stored | {total} / {len(lat)} |")
        print(f"| lost / duplicates | {lost} / {dupes} |")
        print(f"| stream time after a 10 s warm-up | {elapsed:.0f} s |")
        print(f"| gateway RSS start -> end | {start_mem[0]:.1f} -> {end_mem[0]:.1f} MiB |")
        print(f"| edge host RSS median ({args.per_host} agents each) start -> end | "
              f"{start_mem[1]:.1f} -> {end_mem[1]:.1f} MiB |")  # fmt: skip
        print(f"| edge RSS total ({len(hosts)} hosts) start -> end | "
              f"{start_mem[2]:.0f} -> {end_mem[2]:.0f} MiB |")  # fmt: skip
        series = ", ".join(f"{t / 60:.0f} min: {m[0]:.0f}/{m[2]:.0f}" for t, m in samples)
        print(f"| RSS every minute, gateway/edges MiB | {series} |")
        print(f"| capture->commit p50 / p99 | {percentile(lat, 50):.0f} / "
              f"{percentile(lat, 99):.0f} ms |")  # fmt: skip
    finally:
        for host in hosts:
            host.terminate()
        for host in hosts:
            host.wait(60)
        chain.close()
        broker.kill()


if __name__ == "__main__":
    main()
