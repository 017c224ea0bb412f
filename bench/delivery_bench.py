"""Issue 5 figures over the real chain: edge outbox -> Mosquitto -> gateway -> committed rows.

1. Steady load: K stations x R events/s (synthetic scan+weight pairs fed to real agents);
   capture -> commit latency p50/p99 from the store (`committed_ms - ts_ms`), committed events/s.
2. Backlog after an outage: one station's outbox prefilled with N valid events while the gateway is
   down; then agent and gateway start; drain rate until every row is committed and acknowledged.
   Baseline in the same run: plain paho QoS 1, the same window, an acking peer, no outbox.

    .venv/bin/python bench/delivery_bench.py       # 20 x 10/s for 60 s, a 100,000 backlog
    .venv/bin/python bench/delivery_bench.py --seconds 20 --backlog 20000
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from edge_bench import plain_paho  # noqa: E402

from dockscan.config import StationConfig  # noqa: E402
from dockscan.events import Barcode, Outcome, ParcelEvent, Weight  # noqa: E402
from dockscan.ids import utcnow  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from tests.support.broker import Mosquitto, wait_for  # noqa: E402
from tests.support.chain import Chain, read_sql  # noqa: E402

WINDOW = StationConfig.model_fields["window"].default  # the station's send window


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def steady(work: Path, stations: int, rate: float, seconds: float) -> dict[str, float]:
    """Run K agents at `rate` events/s each through the real gateway; return latency figures."""
    broker = Mosquitto(work / "broker").start()
    chain = Chain(work, broker, stations=stations, keepalive=15, ack_timeout=10)
    count = int(rate * seconds)
    try:
        chain.start_gateway()
        chain.wait_gateway()
        started = time.monotonic()
        for sid in chain.ids:
            chain.start_edge(sid, count=count, rate=rate)
        for sid in chain.ids:
            chain.wait_delivered(sid, count, timeout=seconds * 3 + 60)
        elapsed = time.monotonic() - started
        lat = [r[0] for r in read_sql(chain.db, "SELECT committed_ms - ts_ms FROM parcels")]
        return {"events": len(lat), "per_s": len(lat) / elapsed, "p50": pct(lat, 50),
                "p99": pct(lat, 99), "max": max(lat)}  # fmt: skip
    finally:
        chain.close()
        broker.kill()


def prefill(path: Path, n: int) -> None:
    """Commit n valid parcel events to a station's outbox (as if captured during an outage)."""
    box = Outbox(path)
    box._db.execute("PRAGMA synchronous=NORMAL")  # filling 100k one by one with FULL takes minutes
    topic = "dockscan/v1/LGG/st01/parcel"
    weight = Weight(value=2.375, device_value="2.375", device_unit="kg", stable=True,
                    raw="S S      2.375 kg", device="scale")  # fmt: skip
    code = Barcode(text="RR123456785CN", symbology="code128", source="scanner", kind="upu_s10",
                   check_ok=True)  # fmt: skip

    def build(seq: int, event_id: str) -> bytes:
        return ParcelEvent(event_id=event_id, seq=seq, site="LGG", dock="01", station="st01",
                           ts=utcnow(), outcome=Outcome.OK, barcodes=[code], weight=weight,
                           agent_version="bench").to_json()  # fmt: skip

    for _ in range(n):
        box.add(topic, build)
    box.close()


def backlog(work: Path, n: int) -> dict[str, float]:
    """Drain a prefilled outbox through the real gateway; return events/s and the baseline."""
    broker = Mosquitto(work / "broker").start()
    chain = Chain(work, broker, keepalive=15, ack_timeout=30)
    try:
        prefill(chain.outbox("st01"), n)
        chain.start_gateway()
        chain.wait_gateway()
        started = time.monotonic()
        chain.start_edge("st01")
        wait_for(lambda: chain.pending("st01") == 0, 1800, 0.2, "the backlog to drain")
        drain = n / (time.monotonic() - started)
        stored = len(set(chain.stored("st01")))
        baseline = plain_paho(broker, n, WINDOW)
        return {"events": n, "stored": stored, "drain_per_s": drain, "baseline_per_s": baseline}
    finally:
        chain.close()
        broker.kill()


def main() -> None:
    """Run both parts and print Markdown rows."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--stations", type=int, default=20)
    ap.add_argument("--rate", type=float, default=10.0, help="events/s per station")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--backlog", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockscan-delivery-") as tmp:
        s = steady(Path(tmp) / "steady", args.stations, args.rate, args.seconds)
        b = backlog(Path(tmp) / "backlog", args.backlog)
    total = args.stations * args.rate
    print(f"| steady load | {args.stations} stations x {args.rate:g}/s = {total:g} events/s "
          f"for {args.seconds:g} s |")  # fmt: skip
    print(f"| committed | {s['events']} events, {s['per_s']:.0f} events/s |")
    print(f"| capture -> commit p50 / p99 / max | {s['p50']:.0f} / {s['p99']:.0f} / "
          f"{s['max']:.0f} ms |")  # fmt: skip
    print(f"| backlog drained (outbox -> committed and acked) | {b['events']} events, "
          f"{b['stored']} stored, {b['drain_per_s']:.0f} events/s |")  # fmt: skip
    ratio = b["drain_per_s"] / b["baseline_per_s"]
    print(f"| baseline: plain paho QoS 1, window {WINDOW}, acking peer | "
          f"{b['baseline_per_s']:.0f} msg/s (drain = {ratio:.2f}x) |")  # fmt: skip


if __name__ == "__main__":
    main()
