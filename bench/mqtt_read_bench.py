"""paho's receive path: stock client against the read-buffered socket (dockscan/sockbuf.py).

Each client drains the same number of QoS 1 messages queued for its persistent session (so the
publisher does not share the cores while it is measured) and PUBACKs each one as paho does.
Figures: CPU µs per message and messages/s, and the ratio to the stock client in the same run.

Example: .venv/bin/python bench/mqtt_read_bench.py --messages 40000 --runs 3
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import loadgen  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from ingest_bench import BROKER_CONF, SITE  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from dockscan.sockbuf import BufferedClient  # noqa: E402
from tests.support.broker import Mosquitto  # noqa: E402

# name: (client class, parse buffered packets without select)
CLIENTS = {
    "stock paho, loop()": (mqtt.Client, False),
    "buffered socket, loop()": (BufferedClient, False),
    "buffered socket, loop_read() while pending": (BufferedClient, True),
}


def session(cls: type[mqtt.Client], cid: str, port: int, v5: bool) -> mqtt.Client:
    """Connect a client with a persistent session."""
    proto = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    kwargs = {} if v5 else {"clean_session": False}
    client = cls(CallbackAPIVersion.VERSION2, client_id=cid, protocol=proto, **kwargs)
    props, extra = None, {}
    if v5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        extra["clean_start"] = False
    client.connect("127.0.0.1", port, properties=props, **extra)
    return client


def drain(cls: type[mqtt.Client], cid: str, port: int, n: int, v5: bool, fast: bool) -> dict:
    """Receive n queued messages; return CPU µs per message and messages per second."""
    seen = [0]
    client = session(cls, cid, port, v5)
    client.on_message = lambda c, u, m: seen.__setitem__(0, seen[0] + 1)
    cpu, wall = time.process_time(), time.monotonic()
    while seen[0] < n:
        if fast and client.pending():  # type: ignore[attr-defined]
            client.loop_read()
        else:
            client.loop(1.0)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    client.disconnect()
    return {"cpu_us": cpu / n * 1e6, "per_s": n / wall}


def one_run(n: int, v5: bool) -> dict[str, dict]:
    """Queue n messages for each client's session on a fresh broker, then drain each."""
    with tempfile.TemporaryDirectory(prefix="mqtt-read-") as tmp:
        conf = Path(tmp) / "broker.conf.in"
        conf.write_text(BROKER_CONF)
        broker = Mosquitto(Path(tmp) / "broker", conf=conf).start()
        try:
            for i, (cls, _) in enumerate(CLIENTS.values()):
                client = session(cls, f"c{i}", broker.port, v5)
                client.subscribe(f"dockscan/v1/{SITE}/+/parcel", qos=1)
                for _ in range(5):
                    client.loop(0.1)
                client.disconnect()
            loadgen.blast(broker.port, SITE, 4, n)
            time.sleep(0.5)
            return {
                name: drain(cls, f"c{i}", broker.port, n, v5, fast)
                for i, (name, (cls, fast)) in enumerate(CLIENTS.items())
            }
        finally:
            broker.stop()


def main() -> None:
    """Print the median of each client's figures over the runs, for MQTT 5 and 3.1.1."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"{args.messages} queued QoS 1 messages per client, median of {args.runs} runs")
    print("| protocol | client | CPU µs/message | ratio to stock | messages/s |")
    print("|---|---|---|---|---|")
    for v5 in (True, False):
        runs = [one_run(args.messages, v5) for _ in range(args.runs)]
        stock = statistics.median(r["stock paho, loop()"]["cpu_us"] for r in runs)
        for name in CLIENTS:
            cpu = statistics.median(r[name]["cpu_us"] for r in runs)
            rate = statistics.median(r[name]["per_s"] for r in runs)
            proto = "MQTT 5" if v5 else "MQTT 3.1.1"
            print(f"| {proto} | {name} | {cpu:.0f} | {cpu / stock:.2f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
