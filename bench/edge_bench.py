"""Edge delivery benchmark: outbox commits, backlog drain through Mosquitto, capture latency.

Runs a private Mosquitto and a batching peer that acks like the gateway (ack after "commit",
every 20 ms or 500 ids). Prints:
  1. outbox commits/s with synchronous=FULL (ours) vs NORMAL (baseline, not power-loss safe);
  2. drain rate of a backlog (outbox -> broker -> peer -> ack -> delete) vs plain paho QoS 1
     publishing of the same payloads without an outbox (baseline);
  3. capture -> outbox commit and capture -> delivered-to-peer latency, p50/p99, at a set rate.

Example: .venv/bin/python bench/edge_bench.py --backlog 100000 --rate 200 --seconds 10
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockscan.codes import s10_with_check  # noqa: E402
from dockscan.config import BrokerConfig, StationConfig  # noqa: E402
from dockscan.events import Ack  # noqa: E402
from dockscan.ids import utcnow  # noqa: E402
from dockscan.mqtt import no_delay  # noqa: E402
from dockscan.topics import Topics  # noqa: E402
from edge.devices.base import CapturedWeight, ScanRead  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from edge.publisher import Publisher  # noqa: E402
from edge.station import Station  # noqa: E402
from tests.support.broker import Mosquitto, wait_for  # noqa: E402

TOPICS = Topics()
PAYLOAD = json.dumps({"outcome": "OK", "pad": "x" * 500}).encode()


class BatchAcker:
    """Receives parcel events and acks them in batches, like the gateway after a commit."""

    def __init__(self, port: int) -> None:
        self.arrivals: dict[str, float] = {}
        self.pending: dict[tuple[str, str], list[str]] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        ready = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(1000)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        ready.wait(10)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._ack_loop, name="acker", daemon=True)
        self.thread.start()

    def _on_connect(self, client: mqtt.Client, *_a: object) -> None:
        no_delay(client)  # as a gateway should: acks are small packets
        client.subscribe(TOPICS.subscription("parcel"), 1)

    def _on_message(self, _c, _u, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        parts = TOPICS.parse(msg.topic)
        event_id = json.loads(msg.payload).get("event_id", "")
        with self.lock:
            self.arrivals.setdefault(event_id, now)
            self.pending.setdefault((parts.site, parts.station), []).append(event_id)

    def _ack_loop(self) -> None:
        while not self.stop.wait(0.02):
            with self.lock:
                batches, self.pending = self.pending, {}
            for (site, station), ids in batches.items():
                for start in range(0, len(ids), 500):
                    body = Ack(gateway="gw-bench", ids=ids[start : start + 500], ts=utcnow())
                    self.client.publish(TOPICS.ack(site, station), body.to_json(), qos=1)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.client.disconnect()
        self.client.loop_stop()


def outbox_commits(tmp: Path, n: int, synchronous: str) -> float:
    """Return commits per second for n single-event transactions."""
    box = Outbox(tmp / f"commit-{synchronous}.db")
    box._db.execute(f"PRAGMA synchronous={synchronous}")
    start = time.perf_counter()
    for _ in range(n):
        box.add("t", lambda seq, eid: PAYLOAD)
    rate = n / (time.perf_counter() - start)
    box.close()
    return rate


def fill(box: Outbox, n: int) -> None:
    """Commit n events quickly (one transaction each would take minutes: batch via NORMAL)."""
    box._db.execute("PRAGMA synchronous=NORMAL")
    for _ in range(n):
        box.add(TOPICS.parcel("s1", "st1"), lambda seq, eid: json.dumps({"event_id": eid}).encode())
    box._db.execute("PRAGMA synchronous=FULL")


def drain(broker: Mosquitto, tmp: Path, n: int, window: int) -> float:
    """Return events/s from a full outbox to all rows deleted on the peer's acks."""
    box = Outbox(tmp / f"drain-{window}-{broker.port}.db")
    fill(box, n)
    peer = BatchAcker(broker.port)
    cfg = StationConfig(id="st1", dock="d1", window=window, ack_timeout_s=30)
    pub = Publisher("s1", cfg, BrokerConfig(url=broker.url), box)
    start = time.perf_counter()
    pub.start()
    wait_for(lambda: box.depth == 0, 600, interval=0.01, what="drain")
    rate = n / (time.perf_counter() - start)
    pub.stop()
    peer.close()
    box.close()
    return rate


def plain_paho(broker: Mosquitto, n: int, window: int) -> float:
    """Baseline: n QoS 1 publishes with paho alone (window unPUBACKed); msg/s until received."""
    peer = BatchAcker(broker.port)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", broker.port)
    acked = threading.Semaphore(window)  # paho scans its whole queue per PUBACK: keep it short
    client.on_publish = lambda *a: acked.release()
    client.loop_start()
    start = time.perf_counter()
    for i in range(n):
        acked.acquire()
        client.publish(TOPICS.parcel("s1", "base"), json.dumps({"event_id": f"b{i}"}), qos=1)
    wait_for(lambda: len(peer.arrivals) >= n, 600, interval=0.01, what="baseline")
    rate = n / (time.perf_counter() - start)
    client.disconnect()
    client.loop_stop()
    peer.close()
    return rate


def latency(broker: Mosquitto, tmp: Path, rate: float, seconds: float) -> dict[str, float]:
    """Feed scan+weight pairs at `rate`; return p50/p99 ms to commit and to the peer."""
    box = Outbox(tmp / f"latency-{broker.port}.db")
    cfg = StationConfig(id="st1", dock="d1")
    station = Station("s1", cfg, box, TOPICS.parcel("s1", "st1"))
    pub = Publisher("s1", cfg, BrokerConfig(url=broker.url), box)
    peer = BatchAcker(broker.port)
    captured: dict[str, float] = {}
    station.on_captured.append(lambda e: captured.__setitem__(e.event_id, time.monotonic()))
    station.on_captured.append(lambda e: pub.wake())
    pub.start()
    wait_for(lambda: pub.connected, 10)
    began: dict[int, float] = {}
    n = int(rate * seconds)
    start = time.monotonic()
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = time.monotonic()
        began[i] = t
        station.on_scan(ScanRead("sc", "scanner", s10_with_check("BN", i, "XX"), "code128", t=t))
        station.on_weight(CapturedWeight("sw", 1.0, "1.000", "kg", b"1.000", t=t))
    wait_for(lambda: box.depth == 0, 60, what="all acked")
    pub.stop()
    peer.close()
    box.close()
    order = sorted(captured, key=captured.get)  # capture order == i order
    commit = [(captured[e] - began[i]) * 1000 for i, e in enumerate(order)]
    deliver = [(peer.arrivals[e] - began[i]) * 1000 for i, e in enumerate(order)]
    q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    return {
        "n": n,
        "commit_p50": q(commit, 50),
        "commit_p99": q(commit, 99),
        "deliver_p50": q(deliver, 50),
        "deliver_p99": q(deliver, 99),
    }


def main() -> None:
    """Run the three measurements and print figures with ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--backlog", type=int, default=20000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        full = outbox_commits(tmp, args.commits, "FULL")
        normal = outbox_commits(tmp, args.commits, "NORMAL")
        print(f"outbox commits/s: FULL {full:,.0f}  NORMAL (baseline) {normal:,.0f}  "
              f"ratio {full / normal:.2f}")  # fmt: skip
        for extra in ("", "set_tcp_nodelay true"):
            broker = Mosquitto(tmp / f"broker{len(extra)}", extra=extra).start()
            label = extra or "default broker"
            try:
                base = plain_paho(broker, args.backlog, args.window)
                ours = drain(broker, tmp, args.backlog, args.window)
                print(f"[{label}] backlog drain of {args.backlog:,} (window {args.window}): "
                      f"{ours:,.0f} ev/s; plain paho QoS 1, no outbox (baseline) {base:,.0f} "
                      f"msg/s; ratio {ours / base:.2f}")  # fmt: skip
                lat = latency(broker, tmp, args.rate, args.seconds)
                print(f"[{label}] latency at {args.rate:.0f} ev/s ({lat['n']} events): "
                      f"capture->commit p50 {lat['commit_p50']:.1f} ms "
                      f"p99 {lat['commit_p99']:.1f} ms; capture->delivered "
                      f"p50 {lat['deliver_p50']:.1f} ms "
                      f"p99 {lat['deliver_p99']:.1f} ms")  # fmt: skip
            finally:
                broker.kill()


if __name__ == "__main__":
    main()
