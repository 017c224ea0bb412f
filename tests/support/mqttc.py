"""Small synchronous paho clients for tests that play a peer (integrator, another station)."""

import queue
import ssl
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


class TestClient:
    """A connected paho client that records what it receives and the CONNACK reason."""

    __test__ = False

    def __init__(
        self,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        ca: str | None = None,
        v5: bool = True,
    ) -> None:
        proto = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto)
        if username:
            self.client.username_pw_set(username, password)
        if ca:
            self.client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connack = threading.Event()
        self.reason: mqtt.ReasonCode | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, msg: self.messages.put(msg)
        self.port = port

    def _on_connect(self, client, userdata, flags, reason, props) -> None:
        self.reason = reason
        self.connack.set()

    def connect(self, timeout: float = 5.0) -> bool:
        """Connect and wait for CONNACK; return whether the broker accepted us."""
        try:
            self.client.connect("127.0.0.1", self.port, keepalive=10)
        except (OSError, ssl.SSLError):
            return False
        self.client.loop_start()
        if not self.connack.wait(timeout):
            return False
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK."""
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos)
        assert done.wait(5), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has acknowledged (QoS 1)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5)

    def received(self, timeout: float = 1.0) -> list[mqtt.MQTTMessage]:
        """Return what arrived within `timeout` seconds of quiet."""
        out = []
        try:
            while True:
                out.append(self.messages.get(timeout=timeout))
        except queue.Empty:
            return out

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
