"""The ingest loop: MQTT in, validate, batch, commit, then PUBACK and publish the end-to-end acks.

One thread owns both the paho client (driven with `client.loop()`) and the store connection.
Messages are acknowledged to the broker (manual_ack) only after their batch is committed, so the
broker's in-flight window is the only queue: when the store falls behind, the broker holds back.
When the store is down, the batch waits unacknowledged and the loop keeps serving paho
(gateway/outage.py); the site duties go to one gateway at a time (gateway/duties.py).
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
from dockscan.mqtt import publish_json, rotate, topics_for
from dockscan.sockbuf import BufferedClient
from gateway import liveness
from gateway.clock import now_ms
from gateway.deadletters import dead_letter
from gateway.duties import Duties
from gateway.manifests.importer import classifier_for
from gateway.outage import StoreGuard, transient
from gateway.reconcile.matcher import Reconciler, verdict_batch_json
from gateway.session import connect, gateway_client, status_payload, subscriptions
from gateway.store import DATA_ERRORS, Batch, Store, Written
from gateway.validate import Rejected, validate

logger = logging.getLogger(__name__)
TICK_S = 1.0


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
        defaults = liveness.Defaults(
            stale_after_intervals=cfg.gateway.stale_after_intervals,
            station_intervals={s.id: s.telemetry_interval_s for s in cfg.stations},
            watching_since_ms=now_ms(),
        )
        self.duties = Duties(cfg.gateway, defaults, self.client_id) if owns_liveness else None
        self.password = cfg.gateway.database_password()
        self.guard = StoreGuard(cfg.gateway.database, self.password)
        self.reconciler = Reconciler(cfg, classifier_for(cfg)) if cfg.reconcile.enabled else None
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
        subs = self._subscriptions()
        if subs:
            client.subscribe(subs)
        else:  # nothing to subscribe to over MQTT (a NATS worker without liveness duties)
            self._on_subscribe(client, userdata, 0, [], None)
        online = status_payload(self.client_id, "online", self.session)
        publish_json(client, self.status_topic, online, qos=1, retain=True)
        logger.info(
            "connected to %s:%d as %s (session %d, present=%s), subscribed to %s",
            client.host, client.port, self.client_id, self.session, flags.session_present,
            ", ".join(s for s, _ in subs),
        )  # fmt: skip

    def _subscriptions(self) -> list[tuple[str, int]]:
        """Return this worker's MQTT subscriptions."""
        return subscriptions(self.topics, self.cfg.site.id, self.group, self.owns_liveness)

    def _link_up(self) -> bool:
        """Return whether this worker receives what it subscribed to."""
        return self.connected and self.subscribed

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
        # Packet ids of a closed connection: the broker re-sends those messages on the next one
        # (with the ids to PUBACK then), and a stale PUBACK could ack a new message that reused one.
        self.batch.pubacks.clear()
        logger.warning("disconnected from broker %s:%d: %s", client.host, client.port, reason_code)
        rotate(client, self.cfg.broker)

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

    def flush(self, force: bool = False) -> Written | None:
        """Commit the batch; then PUBACK its messages and publish one Ack per station.

        After a failed commit the batch stays, unacknowledged, until the retry is due (`force`:
        try now unless the connection is lost); the loop serves paho in between.
        """
        assert self.store and self.client
        if not self.batch or not (self.guard.ready() or (force and not self.guard.lost)):
            return None
        batch, self.batch = self.batch, Batch()
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
        except Exception as exc:
            self.batch, self.counts = batch, counts
            held = f"{len(batch.parcels) + len(batch.signals) + len(batch.dead)} messages held"
            self.guard.failed(f"commit ({held})", exc, self.store.conn)
            return None
        self.guard.succeeded()
        if self.connected:
            self.client.ack_many(batch.pubacks)
        acks = 0
        for (site, station), ids in written.ids.items():
            ack = Ack(gateway=self.client_id, ids=ids, ts=utcnow())  # type: ignore[arg-type]
            publish_json(self.client, self.topics.ack(site, station), ack.to_json(), qos=1)
            acks += 1
        for (site, station), verdicts in written.verdicts.items():
            payload = verdict_batch_json(site, station, self.client_id, verdicts)
            publish_json(self.client, self.topics.verdict(site, station), payload, qos=1)
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
        """Open the store, connect and ingest until stopped; then commit, ack and disconnect."""
        self.store = self._open_store()
        if self.store is None:
            return
        self._store_opened()
        self.next_tick = time.monotonic()
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
                before = self.received
                rc = self._read(self._wait())
                if self._due(self.received != before):
                    self.flush()
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    self.connected = False
                    self.flush()
                    self.batch.pubacks.clear()  # not committed: the broker re-sends them
                    # Back off when the broker keeps closing us before the subscriptions
                    # are granted (refused CONNECT, ACL): never a tight reconnect loop.
                    self.stop.wait(min(10.0, 0.25 * 2**self.failed_connects) - 0.25)
                    self.failed_connects += 1
                    if not self._connect():
                        break
                now = time.monotonic()
                if now >= self.next_tick:
                    self.next_tick = now + TICK_S
                    self._tick()
        finally:
            self._shutdown()

    def _open_store(self) -> Store | None:
        """Open the store, retrying with backoff while PostgreSQL is unreachable; None if stopped.

        MQTT waits until the store is open: the session number comes from the store, and the
        persistent session would at once deliver messages that nothing could commit.
        """
        stations = [(s.id, s.dock) for s in self.cfg.stations]
        while not self.stop.is_set():
            store = None
            try:
                store = Store(self.gw.database, background_checkpoints=True,
                              gateway=self.client_id, password=self.password,
                              reconciler=self.reconciler)  # fmt: skip
                store.ensure_stations(self.cfg.site.id, stations)
            except Exception as exc:
                if store is not None:
                    store.close()
                if not (self.gw.postgres and transient(exc)):
                    raise
                self.guard.failed("opening the store", exc)
                self.stop.wait(self.guard.retry_at - time.monotonic())
                continue
            self.guard.succeeded()
            return store
        return None

    def _store_opened(self) -> None:
        """Hook: the store is open and MQTT is about to connect."""

    def _wait(self) -> float:
        """Return how long the next read may wait for input (the batch's age, a retry, a tick)."""
        if not self.batch:
            return TICK_S
        wait = 0.0 if self.gw.flush_when_idle else self._batch_left()
        if self.guard.down:
            wait = max(wait, self.guard.wait_s())
        return min(wait, TICK_S)

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
        session = connect(
            self.client, self.client_id, self.cfg, self.status_topic, self._next_session, self.stop
        )
        if session is None:
            return False
        self.session = session
        return True

    def _next_session(self) -> int | None:
        """Return this client's next session number, or None while the store cannot tell it."""
        assert self.store
        if not self.guard.ready():
            return None
        try:
            session = self.store.next_session(self.client_id)
        except Exception as exc:
            self.guard.failed("numbering the MQTT session", exc, self.store.conn)
            return None
        self._store_worked()
        return session

    def _store_worked(self) -> None:
        """Note a store operation outside a commit that worked (a held batch still decides)."""
        if not self.batch:
            self.guard.succeeded()

    def _batch_left(self) -> float:
        """Return the seconds left before the open batch is due by age."""
        return max(0.0, self.batch.opened + self.gw.batch_ms / 1000 - time.monotonic())

    def _tick(self) -> None:
        """Once a second: heartbeat counters; renew the site lease, and run the duties if held."""
        assert self.store
        if not self.guard.ready():
            return  # the store is down: the counters wait in self.counts
        try:
            link = {"heartbeat_ms": now_ms(), "broker_connected": int(self._link_up())}
            self.store.add_counters(self.counts, link)
            self.counts = {}
            if self.duties is not None:
                self.duties.tick(self.store)
        except Exception as exc:
            self.guard.failed("periodic store work", exc, self.store.conn)
            return
        self._store_worked()

    def _shutdown(self) -> None:
        """Commit what is pending, ack it, publish offline, disconnect and close the store."""
        client, store = self.client, self.store
        try:
            if client is not None and store is not None:
                self.flush(force=True)
                if self.batch:
                    held = len(self.batch.parcels) + len(self.batch.messages)
                    logger.warning("stopping with %d messages uncommitted (re-sent later)", held)
                if self.connected:
                    offline = status_payload(self.client_id, "offline", self.session)
                    info = publish_json(client, self.status_topic, offline, qos=1, retain=True)
                    deadline = time.monotonic() + 3
                    while time.monotonic() < deadline and not info.is_published():
                        client.loop(0.05)
                    client.disconnect()
                    client.loop_write()
                if not self.guard.lost:
                    self._final_store_work(store)
        finally:
            if store is not None:
                store.close()
        logger.info("gateway %s stopped", self.client_id)

    def _final_store_work(self, store: Store) -> None:
        """Release the site lease and record the disconnect (logged, not raised, if it fails)."""
        try:
            if self.duties is not None:
                self.duties.release(store)
            store.add_counters(self.counts, {"broker_connected": 0})
        except Exception as exc:
            logger.warning("could not record the stop in the store: %s", exc)
