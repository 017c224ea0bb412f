"""Load generator for the ingest benchmark: valid parcel events from K simulated stations.

Blast mode feeds pre-generated payloads to `mosquitto_pub -l` (the C client stands in for
stations on other machines, so the generator does not eat this box's Python CPU); paced mode
publishes from paho at a fixed rate with `ts` set at publish time (for publish→commit latency).
`count` is the raw-ceiling subscriber: paho, QoS 1, counting only.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from dockscan.codes import s10_with_check
from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.ids import iso_ms, utcnow, uuid7

PREFIX = "dockscan/v1"


def template(site: str, station: str, codes: bool = False) -> str:
    """Return one station's event JSON with {event_id}, {seq} and {ts} placeholders.

    With `codes`, the barcode is a {code} placeholder too (a valid S10 id per event).
    """
    text, kind, check = (
        ("@CODE@", "upu_s10", True) if codes else ("JJD0001234567890", "unknown", None)
    )
    event = ParcelEvent(
        event_id="00000000-0000-7000-8000-000000000000", seq=0, site=site, dock="d1",
        station=station, ts=utcnow(), outcome="OK",
        barcodes=[Barcode(text=text, symbology="code128", source="cam1", kind=kind,
                          check_ok=check)],
        weight=Weight(value=2.375, device_value="2.375", device_unit="kg", stable=True,
                      raw="S S      2.375 kg", device="scale1"),
        agent_version="bench",
    )  # fmt: skip
    doc = json.loads(event.to_json())
    doc.update(event_id="@ID@", seq="@SEQ@", ts="@TS@")
    text = json.dumps(doc, separators=(",", ":")).replace("{", "{{").replace("}", "}}")
    return (
        text.replace('"@ID@"', '"{event_id}"')
        .replace('"@SEQ@"', "{seq}")
        .replace('"@TS@"', '"{ts}"')
        .replace('"@CODE@"', '"{code}"')
    )


def event_code(station_index: int, seq: int) -> str:
    """Return the S10 id of a station's event `seq` (distinct over stations and seqs)."""
    return s10_with_check("LX", station_index * 1_000_000 + seq, "CN")


def payload(tpl: str, seq: int, code: str = "") -> str:
    """Fill a template with a fresh UUIDv7, the seq, the current time (and a code)."""
    return tpl.format(event_id=uuid7(), seq=seq, ts=iso_ms(utcnow()), code=code)


def station_topic(site: str, station: str) -> str:
    """Return a station's parcel topic."""
    return f"{PREFIX}/{site}/{station}/parcel"


def blast(
    port: int, site: str, stations: int, n: int, first_seq: int = 0, codes: bool = False
) -> float:
    """Publish n events spread over `stations` mosquitto_pub processes; return the seconds.

    With `codes`, event `seq` of station k carries `event_code(k, seq)`.
    """
    if shutil.which("mosquitto_pub") is None:
        raise SystemExit("mosquitto_pub missing: apt-get install -y mosquitto-clients")
    files, procs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(stations):
            sid = f"bench{k:03d}"
            tpl = template(site, sid, codes)
            path = Path(tmp) / f"{sid}.jsonl"
            count = n // stations + (1 if k < n % stations else 0)
            seqs = range(first_seq, first_seq + count)
            lines = (payload(tpl, q, event_code(k, q) if codes else "") + "\n" for q in seqs)
            path.write_text("".join(lines), "utf-8")
            files.append((path, sid))
        start = time.monotonic()
        for path, sid in files:
            with open(path, "rb") as fh:
                procs.append(subprocess.Popen(
                    ["mosquitto_pub", "-p", str(port), "-q", "1", "-l", "-M", "200",
                     "-i", f"gen-{sid}", "-t", station_topic(site, sid)], stdin=fh,
                ))  # fmt: skip
        for proc in procs:
            if proc.wait(600) != 0:
                raise SystemExit(f"mosquitto_pub exited {proc.returncode}")
        return time.monotonic() - start


def paced(
    port: int,
    site: str,
    stations: int,
    rate: float,
    seconds: float,
    stop: threading.Event | None = None,
) -> int:
    """Publish `rate` events/s for `seconds` (or until `stop`) from one paho client; return n."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gen-paced")
    client.connect("127.0.0.1", port)
    client.loop_start()
    tpls = [(station_topic(site, f"bench{k:03d}"), template(site, f"bench{k:03d}"))
            for k in range(stations)]  # fmt: skip
    total = int(rate * seconds)
    start = time.monotonic()
    infos = []
    for i in range(total):
        if stop is not None and stop.is_set():
            total = i
            break
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        topic, tpl = tpls[i % stations]
        infos.append(client.publish(topic, payload(tpl, i // stations), qos=1))
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    return total


def count(port: int, n: int, site: str, protocol: str = "5", latency: bool = False) -> dict:
    """Subscribe at QoS 1 and count n messages; return first/last arrival times.

    With `latency`, also return each message's publish→arrival ms from its `ts`.
    """
    done = threading.Event()
    seen: dict = {"count": 0, "first": 0.0, "last": 0.0, "latency_ms": []}

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        if not seen["count"]:
            seen["first"] = now
        seen["count"] += 1
        seen["last"] = now
        if latency:
            ts = datetime.fromisoformat(json.loads(msg.payload)["ts"]).timestamp()
            seen["latency_ms"].append((now - ts) * 1000)
        if seen["count"] >= n:
            done.set()

    proto = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw-counter", protocol=proto)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(f"{PREFIX}/{site}/+/parcel", qos=1)
    client.loop_start()
    print("ready", flush=True)
    done.wait(600)
    client.disconnect()
    client.loop_stop()
    cpu = os.times()
    return {**seen, "cpu_s": cpu.user + cpu.system}


def main() -> None:
    """Run the raw counter (`count PORT N SITE PROTOCOL [latency]`) as its own process."""
    if sys.argv[1] == "count":
        port, n, site, protocol = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
        result = count(port, n, site, protocol, latency=sys.argv[6:] == ["latency"])
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
