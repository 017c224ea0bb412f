"""Verdict latency over the real chain: capture (the stable weight) -> verdict at the station.

Real edge agents feed synthetic scan+weight pairs through Mosquitto to a real gateway that has a
100,000-line manifest open. A subscriber on every station's `verdict` topic (where the agent
listens) notes when each verdict arrives; the latency is arrival minus the event's capture time
`ts`. Baseline in the same run: capture -> commit (`committed_ms - ts_ms` in the store), the
part of the path the ack already takes. Two loads: the demo's (3 stations, a parcel every 2 s
each) and a busy hub's (20 stations x 10 parcels/s).

    .venv/bin/python bench/verdict_bench.py                # both loads, 60 s each
    .venv/bin/python bench/verdict_bench.py --seconds 20
"""

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from delivery_bench import pct  # noqa: E402

from dockscan.codes import s10_with_check  # noqa: E402
from tests.support.broker import Mosquitto  # noqa: E402
from tests.support.chain import Chain, read_sql  # noqa: E402

MANIFEST_LINES = 100_000


def manifest(path: Path) -> Path:
    """Write a MAWB manifest of MANIFEST_LINES S10 lines (none of them the synthetic codes)."""
    rows = (f"{s10_with_check('LX', 50_000_000 + i, 'CN')},1.5\n" for i in range(MANIFEST_LINES))
    path.write_text("tracking_id,declared_kg\n" + "".join(rows))
    return path


class VerdictClock:
    """Subscribes to every station's verdicts and notes each one's arrival (epoch ms)."""

    def __init__(self, port: int) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="verdict-clock")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("dockscan/v1/LGG/+/verdict", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time() * 1000
        batch = orjson.loads(msg.payload)
        with self.lock:
            for v in batch["verdicts"]:
                self.arrived.setdefault(v["event_id"], now)

    def close(self) -> None:
        """Stop listening."""
        self.client.loop_stop()
        self.client.disconnect()


def run(work: Path, stations: int, rate: float, seconds: float) -> dict[str, float]:
    """Run one load; return verdict and commit latency percentiles (ms)."""
    import subprocess

    broker = Mosquitto(work / "broker").start()
    chain = Chain(work, broker, stations=stations, keepalive=15, ack_timeout=10)
    clock = VerdictClock(broker.port)
    count = max(1, int(rate * seconds))
    try:
        chain.start_gateway()
        chain.wait_gateway()
        subprocess.run(
            [sys.executable, "-m", "dockscan", "gateway", "manifest", "import",
             str(manifest(work / "mawb.csv")), "-c", str(chain.config), "--mawb", "176-12345675"],
            check=True, capture_output=True,
        )  # fmt: skip
        for sid in chain.ids:
            chain.start_edge(sid, count=count, rate=rate)
        for sid in chain.ids:
            chain.wait_delivered(sid, count, timeout=seconds * 3 + 60)
        time.sleep(1.0)  # the last verdicts are on their way
        rows = read_sql(chain.db, "SELECT event_id, ts_ms, committed_ms FROM parcels")
        with clock.lock:
            verdict = [clock.arrived[e] - ts for e, ts, _ in rows if e in clock.arrived]
        commit = [c - ts for _, ts, c in rows]
        return {"events": len(rows), "verdicts": len(verdict),
                "v50": pct(verdict, 50), "v99": pct(verdict, 99), "vmax": max(verdict),
                "c50": pct(commit, 50), "c99": pct(commit, 99)}  # fmt: skip
    finally:
        clock.close()
        chain.close()
        broker.kill()


def main() -> None:
    """Run the demo load and the busy load; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    loads = (("demo: 3 stations x 0.5/s", 3, 0.5), ("busy: 20 stations x 10/s", 20, 10.0))
    print("| load | events | verdicts | capture -> verdict p50 / p99 / max ms |"
          " capture -> commit p50 / p99 ms (baseline) | p99 ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for label, stations, rate in loads:
        with tempfile.TemporaryDirectory() as tmp:
            r = run(Path(tmp), stations, rate, args.seconds)
        print(f"| {label} | {r['events']} | {r['verdicts']} | {r['v50']:.0f} / {r['v99']:.0f} /"
              f" {r['vmax']:.0f} | {r['c50']:.0f} / {r['c99']:.0f} |"
              f" {r['v99'] / max(r['c99'], 1):.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
