"""The buffered paho socket: byte-exact reads, pending counts, whole writes, batched PUBACKs."""

import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dockscan.sockbuf import BufferedClient, BufferedSocket
from tests.support.broker import Mosquitto


@pytest.fixture
def pair():
    """A connected socket pair; the reading end is non-blocking and buffered."""
    a, b = socket.socketpair()
    b.setblocking(False)
    yield a, BufferedSocket(b, read_size=64)
    a.close()
    b.close()


def test_reads_come_back_in_order_and_never_longer_than_asked(pair) -> None:
    writer, reader = pair
    data = bytes(range(256)) * 3
    writer.sendall(data)
    time.sleep(0.05)
    got = b""
    for size in [1, 1, 2, 5, 100, 3] * 40:
        try:
            chunk = reader.recv(size)
        except BlockingIOError:
            break
        assert 0 < len(chunk) <= size
        got += chunk
    assert got == data
    assert reader.pending() == 0


def test_pending_counts_buffered_bytes_and_empty_socket_raises(pair) -> None:
    writer, reader = pair
    with pytest.raises(BlockingIOError):
        reader.recv(1)  # nothing sent yet: paho treats this as "try again later"
    writer.sendall(b"abcdefgh")
    time.sleep(0.05)
    assert reader.recv(1) == b"a"
    assert reader.pending() == 7
    assert reader.recv(100) == b"bcdefgh"
    writer.close()
    time.sleep(0.05)
    assert reader.recv(1) == b""  # end of stream reaches paho as it is


def test_send_all_waits_for_room_and_writes_everything(pair) -> None:
    writer, reader = pair
    data = b"x" * (4 * 1024 * 1024)  # far more than the socket buffers hold
    received = bytearray()

    def drain() -> None:
        writer.settimeout(5)
        while len(received) < len(data):
            received.extend(writer.recv(65536))

    thread = threading.Thread(target=drain)
    thread.start()
    reader.send_all(data)
    thread.join(10)
    assert bytes(received) == data


def _session_client(port: int, cid: str, received: list[mqtt.MQTTMessage]) -> BufferedClient:
    """Connect a manual-ack MQTT 5 client with a persistent session."""
    client = BufferedClient(
        CallbackAPIVersion.VERSION2, client_id=cid, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.manual_ack_set(True)
    client.on_message = lambda c, u, msg: received.append(msg)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 300
    client.connect("127.0.0.1", port, properties=props, clean_start=False)
    return client


def _pump(client: BufferedClient, until, timeout: float = 10.0) -> None:
    """Drive the client's loop until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        client.loop(0.05)
        while client.pending():
            client.loop_read()


@pytest.mark.parametrize("acked", [True, False])
def test_ack_many_settles_a_batch_with_the_broker(tmp_path, acked: bool) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        got: list[mqtt.MQTTMessage] = []
        client = _session_client(broker.port, "sub", got)
        _pump(client, lambda: client.is_connected())
        client.subscribe("t/#", qos=1)
        _pump(client, lambda: True)
        time.sleep(0.2)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        for i in range(300):
            pub.publish(f"t/{i % 3}", str(i).encode(), qos=1).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
        _pump(client, lambda: len(got) >= 20)  # the broker's in-flight window (20 by default)
        settled = 0
        while acked and settled < 300:  # PUBACK whatever arrived, as the gateway does per batch
            batch, got[:] = [(m.mid, m.qos) for m in got], []
            client.ack_many(batch)
            settled += len(batch)
            if settled < 300:
                _pump(client, lambda: got)
        # The broker handles one connection's packets in order: once it has acknowledged a
        # publish sent after the PUBACKs, it has handled them all.
        sync = client.publish("sync", b"", qos=1)
        _pump(client, sync.is_published)
        client.disconnect()
        client.loop(0.1)

        again: list[mqtt.MQTTMessage] = []
        client = _session_client(broker.port, "sub", again)
        _pump(client, lambda: client.is_connected())
        if acked:
            deadline = time.monotonic() + 1.0
            _pump(client, lambda: time.monotonic() > deadline)
            assert again == []  # every PUBACK reached the broker: nothing is redelivered
        else:
            _pump(client, lambda: again)
            assert again[0].dup  # unacknowledged: the broker sends it again
        client.disconnect()
    finally:
        broker.stop()
