"""The ingest loop: MQTT in, validate, batch, commit, then PUBACK and publish the end-to-end acks.

One thread owns both the paho client (driven with `client.loop()`) and the SQLite connection.
Messages are acknowledged to the broker (manual_ack) only after their batch is committed, so the
broker's in-flight window is the only queue: when the store falls behind, the broker holds back.
"""

import gc
import logging
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from dockscan.config import SiteConfig
from dockscan.events import Ack, ParcelEvent
from dockscan.ids import utcnow
from dockscan.logs import RateLimitedLog
from dockscan.mqtt import publish_json, topics_for
from dockscan.sockbuf import BufferedClient
from gateway import liveness
from gateway.clock import now_ms
from gateway.deadletters import dead_letter
from gateway.retention import Retention
from gateway.session import connect, gateway_client, status_payload, subscriptions
from gateway.store import DATA_ERRORS, Batch, Store, Written
from gateway.validate import Rejected, validate

logger = logging.getLogger(__name__)
TICK_S = 1.0
GAP_CHECK_S = 2.0


class Ingest:
    """One gateway worker: subscribes, stores, acknowledges; runs until `stop` is set."""

    def __init__(
        self,
        cfg: SiteConfig,
        stop: threading.Event,
        *,
        client_id: str | None = None,
        shared_group: str | None = None,
        owns_liveness: bool = True,
    ) -> None:
        self.cfg, self.gw, self.stop = cfg, cfg.gateway, stop
        self.client_id = client_id or cfg.gateway.id
        self.group = shared_group if shared_group is not None else cfg.gateway.shared_group
        self.owns_liveness = owns_liveness
        self.topics = topics_for(cfg.broker)
        self.status_topic = self.topics.gateway_status(cfg.site.id, self.client_id)
        self.defaults = liveness.Defaults(
            stale_after_intervals=cfg.gateway.stale_after_intervals,
            station_intervals={s.id: s.telemetry_interval_s for s in cfg.stations},
            watching_since_ms=now_ms(),
        )
        self.batch = Batch()
        self.received = 0
        self.connected = False
        self.subscribed = False
        self.failed_connects = 0
        self.counts: dict[str, float] = {}
        self.session = 0
        self.rlog = RateLimitedLog(logger)
        self.store: Store | None = None
        self.client: BufferedClient | None = None
        self.next_tick = 0.0

    # -- MQTT callbacks ---------------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """Subscribe and publish our retained online status, or log a refused connection."""
        if reason_code.is_failure:
            self.rlog.warning("refused", "broker refused the connection: %s", reason_code)
            return
        self.connected = True
        subs = subscriptions(self.topics, self.cfg.site.id, self.group, self.owns_liveness)
        client.subscribe(subs)
        online = status_payload(self.client_id, "online", self.session)
        publish_json(client, self.status_topic, online, qos=1, retain=True)
        logger.info(
            "connected to %s as %s (session %d, present=%s), subscribed to %s",
            self.cfg.broker.url, self.client_id, self.session, flags.session_present,
            ", ".join(s for s, _ in subs),
        )  # fmt: skip

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """Note the lost connection; the run loop reconnects."""
        self.connected = self.subscribed = False
        logger.warning("disconnected from broker: %s", reason_code)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        """Report refused subscriptions; once granted, the gateway counts as connected."""
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            logger.error("broker refused subscriptions: %s", ", ".join(refused))
            return
        self.subscribed = True
        self.failed_connects = 0
        self.next_tick = 0.0  # publish broker_connected=1 now

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        """Keep one message for the batch; it is validated with the rest when the batch is due."""
        batch = self.batch
        if not batch.messages:
            batch.opened = time.monotonic()
        self.received += 1
        batch.messages.append((msg.topic, msg.payload, now_ms()))
        if msg.qos:
            batch.pubacks.append((msg.mid, msg.qos))

    def _sort(self, batch: Batch) -> None:
        """Validate the batch's messages into parcels, signals and dead letters; never raises.

        One tight loop per batch rather than one call per arriving packet: pydantic's
        validator then runs with warm caches instead of between paho's packet handling.
        """
        max_bytes, keep = self.gw.max_payload_bytes, self.gw.dead_letter_payload_bytes
        for topic, payload, received in batch.messages:
            station = None
            try:
                value = validate(self.topics, topic, payload, max_bytes)
            except Rejected as exc:
                reason, station = exc.reason, exc.station
            except Exception as exc:  # the loop never dies on input
                logger.exception("unexpected error validating a message on %s", topic)
                reason = f"internal error: {type(exc).__name__}: {exc}"
            else:
                if value is None:
                    logger.info("station retired (retained status cleared on %s)", topic)
                elif isinstance(value, ParcelEvent):
                    batch.parcels.append((value, payload, received))
                else:
                    batch.signals.append((value, received))  # type: ignore[arg-type]
                continue
            # Not acknowledged end to end: the edge keeps the original and re-sends it, and each
            # arrival of the same bytes bumps one row's `repeats` (see gateway/deadletters.py).
            batch.dead.append(dead_letter(received, topic, station, payload, reason, keep))
            self.rlog.warning("dead:" + reason[:20], "dead letter from %.200s: %s", topic, reason)
        batch.messages = []

    # -- batches ------------------------------------------------------------------------------

    def flush(self) -> Written | None:
        """Commit the batch; then PUBACK its messages and publish one Ack per station."""
        assert self.store and self.client
        batch, self.batch = self.batch, Batch()
        if not batch:
            return None
        self._sort(batch)
        counts, self.counts = self.counts, {}
        try:
            try:
                written = self.store.write(batch, counts)
            except DATA_ERRORS as exc:  # one message the store cannot take must not block the rest
                logger.error("the store refused a batch (%s); writing it message by message", exc)
                written = self.store.write_each(
                    batch, counts, self.topics, self.gw.dead_letter_payload_bytes
                )
        except Exception:
            logger.exception("commit failed; the batch stays unacknowledged and is retried")
            self.batch, self.counts = batch, counts
            self.stop.wait(0.5)
            return None
        if self.connected:
            self.client.ack_many(batch.pubacks)
        acks = 0
        for (site, station), ids in written.ids.items():
            ack = Ack(gateway=self.client_id, ids=ids, ts=utcnow())  # type: ignore[arg-type]
            publish_json(self.client, self.topics.ack(site, station), ack.to_json(), qos=1)
            acks += 1
        self.counts["acks_sent_total"] = self.counts.get("acks_sent_total", 0) + acks
        return written

    def _due(self, read_now: bool) -> bool:
        """Return whether the batch should be committed now (size, age, or nothing more to read)."""
        if not self.batch:
            return False
        if len(self.batch.messages) >= self.gw.batch_size or not self.connected:
            return True
        if time.monotonic() - self.batch.opened >= self.gw.batch_ms / 1000:
            return True
        return self.gw.flush_when_idle and not read_now

    def run(self) -> None:
        """Connect, ingest until stopped, then commit, ack, say offline and disconnect."""
        self.store = Store(self.gw.database, background_checkpoints=True)
        self.store.ensure_stations(self.cfg.site.id, [(s.id, s.dock) for s in self.cfg.stations])
        retention = Retention(self.gw) if self.owns_liveness else None
        self.next_tick = next_gaps = time.monotonic()
        try:
            self.client = gateway_client(self.cfg, self.client_id)
            for name in ("connect", "disconnect", "subscribe", "message"):
                setattr(self.client, f"on_{name}", getattr(self, f"_on_{name}"))
            if not self._connect():
                return
            # Start-up objects (models, schemas, modules) go to the permanent generation, so
            # the collections that batches of parsed events trigger do not walk them again.
            gc.freeze()
            while not self.stop.is_set():
                wait = TICK_S
                if self.batch:
                    wait = 0.0 if self.gw.flush_when_idle else self._batch_left()
                before = self.received
                rc = self._read(wait)
                if self._due(self.received != before):
                    self.flush()
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    self.connected = False
                    self.flush()
                    # Back off when the broker keeps closing us before the subscriptions
                    # are granted (refused CONNECT, ACL): never a tight reconnect loop.
                    self.stop.wait(min(10.0, 0.25 * 2**self.failed_connects) - 0.25)
                    self.failed_connects += 1
                    if not self._connect():
                        break
                now = time.monotonic()
                if now >= self.next_tick:
                    self.next_tick = now + TICK_S
                    do_gaps = now >= next_gaps
                    next_gaps = now + GAP_CHECK_S if do_gaps else next_gaps
                    self._tick(retention, do_gaps)
        finally:
            self._shutdown()

    def _read(self, wait: float) -> mqtt.MQTTErrorCode:
        """Wait up to `wait` s for input, then parse what is already buffered (up to a batch)."""
        assert self.client
        client, limit = self.client, self.gw.batch_size
        rc = client.loop(wait)
        while rc == mqtt.MQTT_ERR_SUCCESS and client.pending() and len(self.batch.messages) < limit:
            rc = client.loop_read()  # no select call: the bytes are in our buffer
        return rc

    def _connect(self) -> bool:
        """Connect or reconnect (new session number) unless stopped first; return connected."""
        assert self.client and self.store
        store, client_id = self.store, self.client_id
        session = connect(
            self.client,
            client_id,
            self.cfg,
            self.status_topic,
            lambda: store.next_session(client_id),
            self.stop,
        )
        if session is None:
            return False
        self.session = session
        return True

    def _batch_left(self) -> float:
        """Return the seconds left before the open batch is due by age."""
        return max(0.0, self.batch.opened + self.gw.batch_ms / 1000 - time.monotonic())

    def _tick(self, retention: Retention | None, do_gaps: bool) -> None:
        """Once a second: heartbeat, and (liveness owner) stale check, seq gaps, retention."""
        assert self.store
        try:
            self.store.add_counters(
                self.counts,
                {
                    "heartbeat_ms": now_ms(),
                    "broker_connected": int(self.connected and self.subscribed),
                },
            )
            self.counts = {}
            if self.owns_liveness:
                grace = int(self.gw.seq_gap_grace_s * 1000)
                self.store.check_liveness(self.defaults, grace if do_gaps else None)
            if retention is not None:
                retention.step(self.store.conn, now_ms())
        except Exception:
            logger.exception("periodic store work failed; will retry")

    def _shutdown(self) -> None:
        """Commit what is pending, ack it, publish offline, disconnect and close the store."""
        client, store = self.client, self.store
        try:
            if client is not None and store is not None:
                self.flush()
                if self.connected:
                    offline = status_payload(self.client_id, "offline", self.session)
                    info = publish_json(client, self.status_topic, offline, qos=1, retain=True)
                    deadline = time.monotonic() + 3
                    while time.monotonic() < deadline and not info.is_published():
                        client.loop(0.05)
                    client.disconnect()
                    client.loop_write()
                store.add_counters(self.counts, {"broker_connected": 0})
        finally:
            if store is not None:
                store.close()
        logger.info("gateway %s stopped", self.client_id)
