"""The MQTT publisher: sends outbox rows in order, deletes them on the gateway's ack, re-sends."""

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from dockscan import __version__
from dockscan.config import BrokerConfig, StationConfig
from dockscan.errors import ContractError
from dockscan.events import Ack, Command, CommandResult, DeviceState, StationStatus, Telemetry
from dockscan.ids import utcnow
from dockscan.logs import RateLimitedLog
from dockscan.mqtt import (
    CONTENT_TYPE,
    Will,
    connect,
    is_v5,
    make_client,
    no_delay,
    publish_json,
    rotate,
    topics_for,
)
from edge.commands import CommandRunner
from edge.evidence_upload import EvidenceUploads
from edge.outbox import Outbox
from edge.sender import SendWindow

logger = logging.getLogger(__name__)


def will_properties(client: mqtt.Client) -> Properties | None:
    """Return the Will's MQTT 5 properties (content type), or None on 3.1.1."""
    if not is_v5(client):
        return None
    props = Properties(PacketTypes.WILLMESSAGE)
    props.ContentType = CONTENT_TYPE
    return props


class Publisher:
    """Owns the station's MQTT client, its status, telemetry and the send/ack/resend loop."""

    def __init__(
        self,
        site: str,
        station: StationConfig,
        broker: BrokerConfig,
        outbox: Outbox,
        *,
        devices: Callable[[], dict[str, DeviceState]] = dict,
        counters: Callable[[], dict[str, int]] = dict,
        uploads: EvidenceUploads | None = None,
        version: str = __version__,
    ) -> None:
        self.site, self.station, self.broker, self.outbox = site, station, broker, outbox
        self.devices, self.station_counters, self.version = devices, counters, version
        self.uploads = uploads
        self.topics = topics_for(broker)
        self.parcel_topic = self.topics.parcel(site, station.id)
        self.status_topic = self.topics.status(site, station.id)
        self.commands: CommandRunner | None = None
        self.on_link: list[Callable[[dict[str, Any]], None]] = []
        self.routes: dict[str, Callable[[bytes], None]] = {}  # verdict, holds: raise if bad
        self.counters: Counter[str] = Counter()
        self.session = 0
        self.connected = False
        self.link_since = utcnow()
        self.sender = SendWindow(
            outbox, self._publish_parcel, station.window, station.ack_timeout_s, self.counters
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._stopping = False
        self._slow = RateLimitedLog(logger, 30)
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self.client: mqtt.Client | None = None

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the client with its Will, connect in the background and start sending."""
        self.session = self.outbox.next_session()
        self.client = make_client(self.broker, self.station.id, self._will())
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_connect_fail = lambda client, _u: rotate(client, self.broker)
        self.client.max_inflight_messages_set(max(20, self.station.window))
        connect(self.client, self.broker)
        self.client.loop_start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sending, publish the offline status explicitly, then disconnect."""
        self._stopping = True
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        client = self.client
        if client is None:
            return
        if self.connected:
            info = self._publish_status("offline", "shutdown")
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                logger.warning("offline status not confirmed: %s", exc)
        client.disconnect()
        client.loop_stop()

    def wake(self) -> None:
        """Ask the send loop to look at the outbox now (a new event was committed)."""
        self._wake.set()

    def request_resend(self) -> int:
        """Re-send everything pending from the oldest row; return how many rows are stored."""
        self.sender.restart()
        self._wake.set()
        return self.outbox.depth

    def link_state(self) -> dict[str, Any]:
        """Return the broker link state for the screen."""
        return {
            "connected": self.connected,
            "since": self.link_since.isoformat(),
            "session": self.session,
            "broker": f"{self.client.host}:{self.client.port}" if self.client else "",
            "inflight": len(self.sender.inflight),
        }

    # status and telemetry -------------------------------------------------------------------

    def _status(self, state: str, reason: str) -> bytes:
        """Serialise this station's status for the current session."""
        return StationStatus(
            site=self.site,
            station=self.station.id,
            dock=self.station.dock,
            state=state,
            session=self.session,
            ts=utcnow(),
            reason=reason,
            version=self.version,
            devices=self.devices(),
        ).to_json()

    def _will(self) -> Will:
        """Return the retained offline status the broker publishes if we vanish."""
        return Will(self.status_topic, self._status("offline", "connection lost"))

    def _publish_status(self, state: str, reason: str = "") -> mqtt.MQTTMessageInfo:
        """Publish the retained status (QoS 1)."""
        assert self.client is not None
        return publish_json(self.client, self.status_topic, self._status(state, reason), 1, True)

    def publish_online(self) -> None:
        """Re-publish the retained online status (device states changed)."""
        if self.connected and not self._stopping:
            self._publish_status("online")

    def reply(self, result: CommandResult) -> None:
        """Publish a command result on the station's reply topic."""
        if self.client is not None:
            topic = self.topics.reply(self.site, self.station.id)
            publish_json(self.client, topic, result.to_json(), 1)

    def telemetry(self) -> Telemetry:
        """Build one telemetry message from the station, publisher and outbox."""
        mqtt_counters = dict(self.counters)  # one C-level copy: paho's thread may add keys
        counters = {**self.station_counters(), **{f"mqtt_{k}": v for k, v in mqtt_counters.items()}}
        counters.update(self.outbox.loss_counters())
        return Telemetry(
            site=self.site,
            station=self.station.id,
            ts=utcnow(),
            session=self.session,
            interval_s=self.station.telemetry_interval_s,
            counters=counters,
            devices=self.devices(),
            outbox_depth=self.outbox.depth,
            oldest_pending_age_s=self.outbox.oldest_age_s(),
        )

    # paho callbacks (paho's thread: never block, never raise) --------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        """Publish online with this session, subscribe, and schedule a full re-send."""
        if rc.is_failure:
            logger.error("broker refused the connection: %s", rc)
            return
        no_delay(client)
        self.connected, self.link_since = True, utcnow()
        self.counters["connects"] += 1
        logger.info("connected (session %d, broker session present=%s)", self.session, flags)
        self._publish_status("online")
        client.subscribe(
            [(self.topics.ack(self.site, self.station.id), 1),
             (f"{self.topics.station(self.site, self.station.id, 'cmd')}/+", 1),
             (self.topics.verdict(self.site, self.station.id), 1),
             (self.topics.hub(self.site, "holds"), 1)]
        )  # fmt: skip
        self.sender.restart()
        self._wake.set()
        self._notify_link()

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        """Prepare the next connect: a new session number and a matching Will."""
        self.connected, self.link_since = False, utcnow()
        if not self._stopping:
            logger.warning("disconnected from broker %s:%d: %s", client.host, client.port, rc)
            rotate(client, self.broker)
            try:
                self.session = self.outbox.next_session()
                will = self._will()
                props = will_properties(client)
                client.will_set(will.topic, will.payload, will.qos, will.retain, properties=props)
            except Exception:
                logger.exception("could not prepare the next session")
        self._notify_link()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        """Note a PUBACK; the send loop marks the row sent (or the evidence image done)."""
        if self.uploads is not None:
            self.uploads.on_puback(mid)
        self.sender.on_puback(mid, getattr(rc, "value", 0))
        self._wake.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        """Route the gateway's acks, commands, verdicts and hold lists."""
        try:
            parts = self.topics.parse(msg.topic)
            if parts.kind == "ack":
                self.sender.on_ack(Ack.model_validate_json(msg.payload).ids)
                self._wake.set()
            elif parts.kind == "cmd":
                self._on_command(parts.name, msg.payload)
            elif parts.kind in self.routes:
                self.routes[parts.kind](msg.payload)
        except (ContractError, ValidationError, ValueError) as exc:
            self.counters[f"invalid_{msg.topic.rsplit('/', 1)[-1]}"] += 1
            self._slow.warning("bad-msg", "ignored bad message on %s: %s", msg.topic, exc)

    def _on_command(self, name: str, payload: bytes) -> None:
        """Queue a command for the command thread, or answer a malformed one."""
        try:
            command = Command.model_validate_json(payload)
        except ValidationError as exc:
            try:
                request_id = str(json.loads(payload).get("request_id", ""))
            except (ValueError, AttributeError):
                request_id = ""
            self.reply(CommandRunner.result(request_id, name, False, f"bad command: {exc}"))
            return
        if self.commands is None:
            self.reply(CommandRunner.result(command.request_id, name, False, "no commands here"))
        else:
            self.commands.submit(name, command)

    def _notify_link(self) -> None:
        """Tell listeners (the screen) that the broker link changed."""
        for cb in self.on_link:
            try:
                cb(self.link_state())
            except Exception:
                logger.exception("link listener failed")

    # the send loop --------------------------------------------------------------------------

    def _run(self) -> None:
        """Apply acks, send within the window, re-send on timeout, publish telemetry."""
        next_telemetry = time.monotonic() + self.station.telemetry_interval_s
        while not self._stop.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            try:
                self.sender.step(self.connected)
                if self.uploads is not None:  # after the events: an image never goes first
                    self.uploads.step(self.client, self.connected)
                now = time.monotonic()
                if now >= next_telemetry:
                    next_telemetry = max(next_telemetry + self.station.telemetry_interval_s, now)
                    if self.connected and self.client is not None:
                        topic = self.topics.telemetry(self.site, self.station.id)
                        publish_json(self.client, topic, self.telemetry().to_json(), 0)
            except Exception:
                logger.exception("publisher loop error; retrying")
                self._stop.wait(1.0)
        self.sender.step(connected=False)  # record the last acks before the outbox closes

    def _publish_parcel(self, payload: bytes) -> int:
        """Publish one parcel payload (QoS 1); return its mid."""
        assert self.client is not None
        return publish_json(self.client, self.parcel_topic, payload, 1).mid
