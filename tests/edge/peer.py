"""A small gateway stand-in for edge tests: records parcel events and acks them like the gateway."""

import threading
from collections import Counter

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dockscan.events import Ack, ParcelEvent
from dockscan.ids import utcnow
from dockscan.topics import Topics


class AckingPeer:
    """Subscribes to every parcel topic with a persistent session and acks each event it stores."""

    def __init__(self, port: int, ack: bool = True, client_id: str = "gw-test") -> None:
        self.topics = Topics()
        self.ack = ack
        self.received: Counter[str] = Counter()  # event_id -> deliveries
        self.stored: dict[str, ParcelEvent] = {}
        self.order: list[int] = []  # seq of first deliveries, in arrival order
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.ready = threading.Event()
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.connect_async("127.0.0.1", port, 5, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.ready.wait(10), "peer got no SUBACK"

    def _on_connect(self, client: mqtt.Client, _u, _f, rc, _p) -> None:
        client.subscribe(self.topics.subscription("parcel"), 1)

    def _on_message(self, client: mqtt.Client, _u, msg: mqtt.MQTTMessage) -> None:
        event = ParcelEvent.model_validate_json(msg.payload)
        with self.lock:
            self.received[event.event_id] += 1
            if event.event_id not in self.stored:
                self.order.append(event.seq)
            self.stored[event.event_id] = event
            ack = self.ack
        if ack:
            body = Ack(gateway="gw-test", ids=[event.event_id], ts=utcnow()).to_json()
            client.publish(self.topics.ack(event.site, event.station), body, qos=1)

    def ack_all_stored(self) -> None:
        """Ack everything stored so far (after a period with acks off)."""
        with self.lock:
            self.ack = True
            by_station: dict[tuple[str, str], list[str]] = {}
            for e in self.stored.values():
                by_station.setdefault((e.site, e.station), []).append(e.event_id)
        for (site, station), ids in by_station.items():
            body = Ack(gateway="gw-test", ids=ids, ts=utcnow()).to_json()
            self.client.publish(self.topics.ack(site, station), body, qos=1)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


class Watcher:
    """Collects the JSON payloads published on one topic filter (retained ones included)."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.ready = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", port, 5)
        self.client.loop_start()
        assert self.ready.wait(10), f"no SUBACK for {topic}"

    def _on_message(self, _c, _u, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload, msg.retain))

    def payloads(self, model: type) -> list:
        """Return every payload parsed with `model`, in arrival order."""
        with self.lock:
            return [model.model_validate_json(p) for _, p, _ in self.messages if p]

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
