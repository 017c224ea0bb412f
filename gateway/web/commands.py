"""Station commands (zero, tare, resend) over MQTT: one lazily connected paho client per process."""

import logging
import os
import threading
import time

import paho.mqtt.client as mqtt

from dockscan.config import SiteConfig
from dockscan.errors import BrokerError
from dockscan.events import Command
from dockscan.ids import utcnow, uuid7
from dockscan.mqtt import connect, make_client, publish_json, topics_for

logger = logging.getLogger(__name__)
COMMANDS = ("zero", "tare", "resend")


class CommandPublisher:
    """Publishes Command payloads on Topics.cmd; connects on first use, reconnects on demand."""

    def __init__(self, cfg: SiteConfig, timeout_s: float = 5.0) -> None:
        self.cfg = cfg
        self.timeout_s = timeout_s
        self.topics = topics_for(cfg.broker)
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None

    def _connected_client(self) -> mqtt.Client:
        """Return a connected client, connecting on first use and waiting (bounded) for CONNACK."""
        if self._client is None:
            broker = self.cfg.broker.model_copy(update={"session_expiry_s": 0})
            client = make_client(broker, f"{self.cfg.gateway.id}-ui-{os.getpid()}")
            try:
                connect(client, broker, blocking=True)
            except OSError as exc:
                raise BrokerError(f"cannot reach the broker at {broker.url}: {exc}") from exc
            client.loop_start()
            self._client = client
        deadline = time.monotonic() + self.timeout_s
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise BrokerError(f"not connected to the broker at {self.cfg.broker.url}")
            time.sleep(0.05)
        return self._client

    def send(self, station: str, name: str, sender: str, args: dict | None = None) -> str:
        """Publish one command at QoS 1, wait for the broker's PUBACK, and return its request id."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r} (known: {', '.join(COMMANDS)})")
        command = Command(request_id=uuid7(), args=args or {}, ts=utcnow(), sender=sender[:64])
        topic = self.topics.cmd(self.cfg.site.id, station, name)
        with self._lock:
            client = self._connected_client()
            info = publish_json(client, topic, command.to_json(), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise BrokerError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        info.wait_for_publish(self.timeout_s)
        if not info.is_published():
            raise BrokerError(f"the broker did not confirm {topic} within {self.timeout_s} s")
        logger.info("sent %s to %s (request %s, by %s)", name, station, command.request_id, sender)
        return command.request_id

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        with self._lock:
            if self._client is not None:
                self._client.disconnect()
                self._client.loop_stop()
                self._client = None
