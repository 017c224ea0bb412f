"""The ingest loop: MQTT in, validate, batch, commit, then PUBACK and publish the end-to-end acks.

One thread owns both the paho client (driven with `client.loop()`) and the store connection.
Messages are acknowledged to the broker (manual_ack) only after their batch is committed, so the
broker's in-flight window is the only queue: when the store falls behind, the broker holds back.
When the store is down, the batch waits unacknowledged and the loop keeps serving paho
(gateway/outage.py); the site duties go to one gateway at a time (gateway/duties.py).
Hold requests from integrators and the stations' evidence images are applied in commits of
their own (gateway/side_intakes.py).
"""

import gc
import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from dockscan.config import SiteConfig
from dockscan.logs import RateLimitedLog
from dockscan.mqtt import publish_json, rotate, topics_for
from dockscan.sockbuf import BufferedClient
from gateway import liveness
from gateway.clock import now_ms
from gateway.duties import Duties
from gateway.manifests.importer import classifier_for
from gateway.opening import open_store
from gateway.outage import StoreGuard
from gateway.outbound import STEP_S, HubPublisher
from gateway.reconcile.matcher import Reconciler
from gateway.routing import sort_batch
from gateway.session import (
    connect,
    gateway_client,
    publish_acks,
    say_offline,
    status_payload,
    subscriptions,
)
from gateway.side_intakes import SideIntakes
from gateway.store import DATA_ERRORS, Batch, Store, Written

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
        self.duties, self.sides = None, None
        if owns_liveness:
            hub = HubPublisher(cfg.site.id, self.topics)
            self.duties = Duties(cfg.gateway, defaults, self.client_id, hub, cfg.clearing)
            self.sides = SideIntakes(cfg, self.topics, self.group)
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
        if self.duties is not None and self.duties.hub is not None:  # the broker may have lost
            self.duties.hub.reset(getattr(properties, "MaximumPacketSize", None))  # the list
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
        if self.sides is not None:
            self.sides.forget_pubacks()
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
        pairs = zip(self._subscriptions(), reason_codes, strict=False)
        refused = {topic: str(rc) for (topic, _), rc in pairs if rc.is_failure}
        if set(refused) - (self.sides.optional if self.sides else set()):
            logger.error("broker refused subscriptions: %s", refused)
            return
        if refused:  # an ACL from before hold requests or evidence: the ingest runs without
            logger.error("broker refused %s: regenerate the ACL (dockscan broker-config)", refused)
        self.subscribed = True
        self.failed_connects = 0
        self.next_tick = 0.0  # publish broker_connected=1 now

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        """Keep one message for the batch; it is validated with the rest when the batch is due."""
        if self.sides is not None and self.sides.take(msg):
            return
        batch = self.batch
        if not batch.messages:
            batch.opened = time.monotonic()
        self.received += 1
        batch.messages.append((msg.topic, msg.payload, now_ms()))
        if msg.qos:
            batch.pubacks.append((msg.mid, msg.qos))

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
        sort_batch(batch, self.topics, self.gw, self.rlog)
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
        acks = publish_acks(self.client, self.topics, self.client_id, written)
        self._count({"acks_sent_total": acks})
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
                if self.sides:  # before the batch: its parcels then see the holds
                    assert self.client
                    self.sides.apply(self._guarded, self._count, self.client, self.connected)
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
                self._publish()
        finally:
            self._shutdown()

    def _open_store(self) -> Store | None:
        """Open the store (waiting while PostgreSQL is unreachable); None if stopped first."""
        return open_store(self.cfg, self.client_id, self.guard, self.stop, self.reconciler)

    def _store_opened(self) -> None:
        """Hook: the store is open and MQTT is about to connect."""

    def _wait(self) -> float:
        """Return how long the next read may wait for input (the batch's age, a retry, a tick)."""
        if self.sides:  # apply them now, or when the store may be tried
            return min(self.guard.wait_s(), TICK_S) if self.guard.down else 0.0
        if not self.batch:
            return STEP_S if self.duties is not None and self.duties.held else TICK_S
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
        got: list[int] = []
        self._guarded(
            "numbering the MQTT session", lambda s: got.append(s.next_session(self.client_id))
        )
        return got[0] if got else None

    def _store_worked(self) -> None:
        """Note a store operation outside a commit that worked (a held batch still decides)."""
        if not self.batch:
            self.guard.succeeded()

    def _batch_left(self) -> float:
        """Return the seconds left before the open batch is due by age."""
        return max(0.0, self.batch.opened + self.gw.batch_ms / 1000 - time.monotonic())

    def _guarded(self, what: str, work: Callable[[Store], object]) -> bool:
        """Run store work outside a batch unless the store is down; a failure goes to the guard."""
        assert self.store
        if not self.guard.ready():
            return False  # the store is down: counters wait in self.counts, requests unacked
        try:
            work(self.store)
        except Exception as exc:
            self.guard.failed(what, exc, self.store.conn)
            return False
        self._store_worked()
        return True

    def _tick(self) -> None:
        """Once a second: heartbeat counters; renew the site lease, and run the duties if held."""
        self._guarded("periodic store work", self._periodic)

    def _periodic(self, store: Store) -> None:
        """Write the heartbeat and counters; renew the lease and run the duties if held."""
        link = {"heartbeat_ms": now_ms(), "broker_connected": int(self._link_up())}
        store.add_counters(self.counts, link)
        self.counts = {}
        if self.duties is not None:
            self.duties.tick(store)

    def _count(self, counts: dict[str, float]) -> None:
        """Add to the counters the next tick writes."""
        for name, value in counts.items():
            self.counts[name] = self.counts.get(name, 0) + value

    def _publish(self) -> None:
        """While holding the site duties: publish the hold list and the outbound queue."""
        duties, client = self.duties, self.client
        if duties is not None and client is not None and self._link_up():
            self._guarded("publishing for the hub", lambda s: duties.publish(s, client))

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
                    say_offline(client, self.status_topic, offline)
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
