"""The NATS broker tier over real processes: a 3-node cluster, two gateways, several stations."""

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.broker import wait_for
from tests.support.chain import Chain, read_sql
from tests.support.nats import NatsCluster

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
STATIONS, EVENTS = 3, 3000


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A fresh 3-node NATS cluster (JetStream, MQTT) on free loopback ports."""
    nodes = NatsCluster(tmp_path / "nats").start()
    yield nodes
    nodes.stop()


def nats_chain(work: Path, cluster: NatsCluster) -> tuple[Chain, Path]:
    """Return a chain whose edges use every node (n1 first) and a second gateway's config."""
    placeholder = "mqtt://placeholder:1883"
    chain = Chain(work, SimpleNamespace(url=placeholder), STATIONS, protocol="3.1.1")  # type: ignore[arg-type]
    mqtt = ", ".join(f'"{u}"' for u in cluster.mqtt_urls)
    nats = ", ".join(f'"{u}"' for u in cluster.urls)
    text = chain.config.read_text().replace(
        f'url = "{placeholder}"',
        f'urls = [{mqtt}]\ntransport = "nats"\nnats_urls = [{nats}]\nnats_ack_wait_s = 5',
    )
    chain.config.write_text(text)
    second = work / "site-gw2.toml"
    second.write_text(text.replace("[gateway]\n", '[gateway]\nid = "gw-2"\n'))
    return chain, second


def test_two_gateways_and_a_node_killed(tmp_path: Path, cluster: NatsCluster) -> None:
    chain, gw2 = nats_chain(tmp_path, cluster)
    try:
        chain.start_gateway()
        chain.procs.start("gateway-2", "gateway", "run", "-c", str(gw2), "--no-liveness")
        chain.wait_gateway()
        time.sleep(2.0)  # the second gateway binds the same durable consumer
        for sid in chain.ids:
            chain.start_edge(sid, count=EVENTS, rate=500)
        wait_for(lambda: cluster.delivered_to("gw-2") > 200, 30, 0.2, "gw-2 to get parcels")
        chain.wait_accepted("st01", 800)
        chain.procs.kill("gateway-2")  # its un-acked messages come back after ack_wait
        chain.wait_accepted("st01", 1500)
        cluster.nodes[0].kill()  # the node every station is connected to
        time.sleep(3.0)
        cluster.restart(0)
        for sid in chain.ids:
            chain.wait_accepted(sid, EVENTS)
            chain.wait_delivered(sid, EVENTS, timeout=90)
        for sid in chain.ids:
            figures = chain.assert_exactly_once(sid, EVENTS)
            assert chain.pending(sid) == 0
        chain.record("NATS: gateway and station node SIGKILLed", figures, stations=STATIONS)
        online = "SELECT count(*) FROM stations WHERE state = 'online'"
        wait_for(lambda: read_sql(chain.db, online) == [(STATIONS,)], 20, 0.2, "all online")
        assert chain.procs.stop("gateway") == 0, "SIGTERM: commit, ack, offline, exit 0"
        assert "Traceback" not in chain.procs.log("gateway"), chain.procs.log("gateway")[-3000:]
    finally:
        chain.close()


def test_acks_reach_an_offline_station_only_over_mqtt(cluster: NatsCluster) -> None:
    """Why the gateway acks over MQTT: a core NATS publish is not kept in an offline session."""
    import asyncio
    import threading

    import nats
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    from tests.support.mqttc import TestClient

    topic, got = "dockscan/v1/LGG/st01/ack", []
    subscribed = threading.Event()

    def station() -> mqtt.Client:
        """Return the station's persistent-session client (a new object per connection)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="st01", protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=False,
        )  # fmt: skip
        client.on_message = lambda c, u, msg: got.append(msg.payload)
        client.on_subscribe = lambda *args: subscribed.set()
        return client

    first = station()
    first.on_connect = lambda client, *args: client.subscribe(topic, 1)
    first.connect("127.0.0.1", cluster.nodes[0].mqtt_port)
    first.loop_start()
    assert subscribed.wait(20), "no SUBACK"  # the first MQTT connect creates the streams
    first.disconnect()
    first.loop_stop()
    gateway = TestClient(cluster.nodes[1].mqtt_port, "gw", v5=False)
    assert gateway.connect()

    async def core_publish() -> None:
        nc = await nats.connect(cluster.urls)
        for i in range(5):
            await nc.publish("dockscan.v1.LGG.st01.ack", f"nats-{i}".encode())
        await nc.flush()
        await nc.close()

    runner = threading.Thread(target=asyncio.run, args=(core_publish(),))  # no loop here
    runner.start()  # (the browser tests leave an event loop set on the main thread)
    runner.join(15)
    for i in range(5):
        gateway.publish(topic, f"mqtt-{i}".encode(), qos=1)
    gateway.close()
    again = station()
    again.connect("127.0.0.1", cluster.nodes[2].mqtt_port)  # another node: the same session
    again.loop_start()
    try:
        wait_for(lambda: len(got) >= 5, 10, 0.1, "the queued acks")
        time.sleep(0.5)
        assert sorted(got) == [f"mqtt-{i}".encode() for i in range(5)]
    finally:
        again.disconnect()
        again.loop_stop()
