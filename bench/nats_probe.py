"""Measure how NATS 2.9 (JetStream + MQTT) treats our topic tree; the facts in docs/scale-out.md.

Starts a private 3-node cluster on free loopback ports and prints one line per finding:

    .venv/bin/python bench/nats_probe.py
"""

import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import nats
import paho.mqtt.client as mqtt
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.nats import NatsCluster  # noqa: E402

ACK = "dockscan/v1/LGG/st01/ack"


class Peer:
    """A paho 3.1.1 client with a persistent session that records what it receives."""

    def __init__(self, port: int, cid: str, clean: bool = False) -> None:
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=cid, protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=clean,
        )  # fmt: skip
        self.got: list[mqtt.MQTTMessage] = []
        self.present: bool | None = None
        self.up = threading.Event()
        self.c.on_message = lambda c, u, m: self.got.append(m)
        self.c.on_connect = self._on_connect
        self.port = port

    def _on_connect(self, c, u, flags, rc, p) -> None:
        self.present = flags.session_present
        self.up.set()

    def connect(self, port: int | None = None) -> "Peer":
        """Connect (optionally to another node) and wait for CONNACK."""
        self.up.clear()
        self.c.connect("127.0.0.1", port or self.port, 10)
        self.c.loop_start()
        assert self.up.wait(10), "no CONNACK"
        return self

    def sub(self, topic: str, qos: int = 1) -> None:
        """Subscribe and give the server time to set the subscription up."""
        self.c.subscribe(topic, qos)
        time.sleep(0.5)

    def pub(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Publish; return whether it was PUBACKed within 3 s."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        try:
            info.wait_for_publish(3)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def close(self) -> None:
        """Disconnect cleanly."""
        self.c.disconnect()
        self.c.loop_stop()

    def drop(self) -> None:
        """Vanish without DISCONNECT (the session stays)."""
        self.c.loop_stop()
        self.c.socket().close()


def out(name: str, value: object) -> None:
    """Print one finding."""
    print(f"{name}: {json.dumps(value, default=str)}", flush=True)


async def streams(nc) -> dict:
    """Return every stream's config summary and message count."""
    js = nc.jetstream()
    res = {}
    for info in await js.streams_info():
        c = info.config
        res[c.name] = {
            "subjects": c.subjects, "retention": str(c.retention), "storage": str(c.storage),
            "replicas": c.num_replicas, "max_msgs_per_subject": c.max_msgs_per_subject,
            "max_age": c.max_age, "msgs": info.state.messages,
        }  # fmt: skip
    return res


async def main() -> None:
    """Run every probe against one fresh cluster."""
    work = Path(tempfile.mkdtemp(prefix="nats-probe-"))
    options = sys.argv[1] if len(sys.argv) > 1 else "stream_replicas: 3"
    out("mqtt options", options)
    cluster = NatsCluster(work, mqtt_options=options).start()
    n1, n2, n3 = cluster.nodes
    try:
        nc = await nats.connect(cluster.urls)
        seen: list[str] = []

        async def note(msg) -> None:
            seen.append(msg.subject)

        await nc.subscribe(">", cb=note)
        await nc.flush()
        a = Peer(n1.mqtt_port, "probe-a").connect()
        out("streams after the first MQTT connect", await streams(nc))
        for topic, qos in (("dockscan/v1/LGG/st01/parcel", 0), ("/lead/slash", 0), ("a/b/", 0),
                           ("dot.ted/x", 0), ("dot.ted/x", 1), ("sp ace/x", 1)):  # fmt: skip
            ok = a.pub(topic, b"x", qos)
            if not a.c.is_connected():
                a.c.loop_stop()
                a = Peer(n1.mqtt_port, f"probe-a{len(topic)}{qos}").connect()
                out(f"MQTT topic {topic!r} QoS {qos}: the server closed the connection", True)
            await asyncio.sleep(0.3)
            out(f"MQTT topic {topic!r} published ok={ok}; NATS subjects seen", seen[-1:])
            seen.clear()

        # 1. QoS 1 from an MQTT publisher with no QoS 1 subscriber: in any stream?
        for _ in range(100):
            a.pub("dockscan/v1/LGG/st01/parcel", b"p", 1)
        out("after 100 QoS1 parcels, no subscribers", await streams(nc))

        # 2. Our own stream captures MQTT QoS 1 publishes.
        js = nc.jetstream()
        await js.add_stream(StreamConfig(
            name="DOCKSCAN_PARCELS", subjects=["dockscan.v1.*.*.parcel"], num_replicas=3,
            retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
        ))  # fmt: skip
        acked = sum(a.pub("dockscan/v1/LGG/st01/parcel", b"p", 1) for _ in range(200))
        out(
            f"DOCKSCAN_PARCELS: {acked}/200 PUBACKed right after add_stream, stored",
            (await streams(nc))["DOCKSCAN_PARCELS"]["msgs"],
        )
        await js.purge_stream("DOCKSCAN_PARCELS")
        await asyncio.sleep(2)
        acked = sum(a.pub("dockscan/v1/LGG/st01/parcel", b"p", 1) for _ in range(1000))
        await asyncio.sleep(0.5)
        out(
            f"DOCKSCAN_PARCELS after 1000 QoS1 MQTT publishes ({acked} PUBACKed)",
            (await streams(nc))["DOCKSCAN_PARCELS"]["msgs"],
        )

        nc2 = nc
        # 4. Acks to an offline QoS 1 subscriber: plain NATS publish vs MQTT QoS 1 publish.
        st = Peer(n1.mqtt_port, "st01").connect()
        st.sub(ACK, 1)
        out("streams with one QoS1 subscription", await streams(nc2))
        await nc2.publish("dockscan.v1.LGG.st01.ack", b"nats-online")
        a.pub(ACK, b"mqtt-online", 1)
        await asyncio.sleep(0.5)
        out("online subscriber got (payload, qos)", [(m.payload.decode(), m.qos) for m in st.got])
        st.close()
        st.got.clear()
        for i in range(10):
            await nc2.publish("dockscan.v1.LGG.st01.ack", f"nats-{i}".encode())
            a.pub(ACK, f"mqtt-{i}".encode(), 1)
        await nc2.flush()
        js2 = nc2.jetstream()
        for i in range(10):
            await js2.publish("$MQTT.msgs.dockscan.v1.LGG.st01.ack", f"js-{i}".encode())
        await asyncio.sleep(0.5)
        st.connect()
        await asyncio.sleep(1.0)
        got = [m.payload.decode() for m in st.got]
        out("offline subscriber on reconnect: session_present", st.present)
        out(
            "offline subscriber got (10 each sent)",
            {k: sum(g.startswith(k) for g in got) for k in ("nats-", "mqtt-", "js-")},
        )

        # 5. The subscriber's node dies: its session on another node.
        st.got.clear()
        st.drop()
        n1.kill()
        await asyncio.sleep(1.0)
        nc3 = await nats.connect([n2.url, n3.url])
        pub2 = Peer(n2.mqtt_port, "probe-b").connect()
        for i in range(10):
            pub2.pub(ACK, f"after-kill-{i}".encode(), 1)
        st2 = Peer(n3.mqtt_port, "st01")
        st2.connect()
        await asyncio.sleep(1.5)
        out("after its node died: reconnect to another node, session_present", st2.present)
        out("acks published while its node was dead, received (10 sent)", len(st2.got))

        # 6. Retained status: where it lives and what a new subscriber gets.
        pub2.pub("dockscan/v1/LGG/st01/status", b'{"state":"online"}', 1, retain=True)
        await asyncio.sleep(0.5)
        w = Peer(n3.mqtt_port, "watcher", clean=True).connect()
        w.sub("dockscan/v1/LGG/+/status", 1)
        await asyncio.sleep(0.5)
        out(
            "new subscriber got retained (payload, retain flag)",
            [(m.payload.decode(), m.retain) for m in w.got],
        )
        out("streams at the end", await streams(nc3))
        for p in (w, st2, pub2):
            p.close()
        cluster.restart(0)
        # 3. PUBACK while the stream cannot store (two of three nodes down: no quorum).
        a = Peer(n2.mqtt_port, "probe-q").connect()
        n1.kill()
        n3.kill()
        t0 = time.monotonic()
        acked = sum(a.pub("dockscan/v1/LGG/st01/parcel", b"q", 1) for _ in range(20))
        out(
            "QoS1 PUBACKs with the R3 stream without quorum (20 sent)",
            {"acked": acked, "s": round(time.monotonic() - t0, 2)},
        )
        cluster.restart(0, healthy=False)
        cluster.restart(2, healthy=False)
        t0 = time.monotonic()
        cluster.wait_healthy(120)
        out("healthy again after (s)", round(time.monotonic() - t0, 1))
        out(
            "DOCKSCAN_PARCELS after quorum returned (was 1000)",
            (await streams(nc3))["DOCKSCAN_PARCELS"]["msgs"],
        )

        await nc3.close()
    finally:
        cluster.stop()


if __name__ == "__main__":
    asyncio.run(main())
