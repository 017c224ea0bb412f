"""Ingest from NATS: parcels through one durable JetStream consumer that all gateways share.

Stations speak MQTT 3.1.1 to the cluster's MQTT listeners. Their parcel publishes are core NATS
messages that the gateway's own stream captures (NATS keeps MQTT QoS 1 messages only for MQTT
subscriptions). Gateways pull batches from one durable consumer and ack each message only after
its batch is committed. Acks to the stations, the gateway's retained status and the stations'
status and telemetry go over the gateway's MQTT connection: a plain NATS publish never reaches an
offline station's session (docs/scale-out.md). nats-py is asyncio-only, so its loop runs in one
dedicated thread and hands messages to the ingest thread through a queue.
"""

import asyncio
import logging
import queue
import threading
import time
from typing import Any

import nats
import paho.mqtt.client as mqtt
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig
from nats.js.errors import BadRequestError

from dockscan.config import SiteConfig
from gateway.clock import now_ms
from gateway.ingest import Ingest
from gateway.store import Written

logger = logging.getLogger(__name__)
IDLE_POLL_S = 0.02  # how long paho's select waits while parcels may arrive through the queue


def parcel_subject(prefix: str) -> str:
    """Return the NATS subject filter of every station's parcel topic under `prefix`."""
    return prefix.replace("/", ".") + ".*.*.parcel"


def subject_topic(subject: str) -> str:
    """Map a NATS subject back to its MQTT topic (our ids and prefix never contain `.`)."""
    return subject.replace(".", "/")


class NatsIngest(Ingest):
    """A gateway worker reading parcels from JetStream; the rest of Ingest is unchanged."""

    def __init__(
        self,
        cfg: SiteConfig,
        stop: threading.Event,
        *,
        client_id: str | None = None,
        owns_liveness: bool = True,
    ) -> None:
        super().__init__(
            cfg, stop, client_id=client_id, shared_group="", owns_liveness=owns_liveness
        )
        self.inbox: queue.Queue[tuple[str, bytes, Any]] = queue.Queue()
        self.js_batch: list[Any] = []  # JetStream messages of the open batch
        self.js_ready = False
        self.final_flush = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.nats_thread = threading.Thread(target=self._nats_main, name="nats", daemon=True)

    # -- ingest hooks -------------------------------------------------------------------------

    def _subscriptions(self) -> list[tuple[str, int]]:
        """Subscribe over MQTT to status and telemetry only (liveness owner); parcels are pulled."""
        return [s for s in super()._subscriptions() if not s[0].endswith("/parcel")]

    def _link_up(self) -> bool:
        """Return whether both the MQTT session and the JetStream consumer are up."""
        return super()._link_up() and self.js_ready

    def _read(self, wait: float) -> mqtt.MQTTErrorCode:
        """Serve paho briefly, then move pulled parcels from the queue into the batch."""
        assert self.client
        rc = super()._read(0.0 if not self.inbox.empty() else min(wait, IDLE_POLL_S))
        batch, limit = self.batch, self.gw.batch_size
        while len(batch.messages) < limit:
            try:
                subject, data, msg = self.inbox.get_nowait()
            except queue.Empty:
                break
            if not batch.messages:
                batch.opened = time.monotonic()
            batch.messages.append((subject_topic(subject), data, now_ms()))
            self.js_batch.append(msg)
            self.received += 1
        return rc

    def flush(self, force: bool = False) -> Written | None:
        """Commit as Ingest does; then ack the batch's JetStream messages (kept if it failed)."""
        before, pending = self.batch, self.js_batch
        self.js_batch = []
        written = super().flush(force)
        if self.batch is before and before:  # failed or not due: the batch is retried
            self.js_batch = pending + self.js_batch
        elif pending:
            asyncio.run_coroutine_threadsafe(self._ack(pending), self.loop)
        return written

    def _store_opened(self) -> None:
        """Start pulling parcels once the store can take them."""
        self.nats_thread.start()

    def run(self) -> None:
        """Run the ingest loop (MQTT for everything but parcels); the NATS thread pulls parcels."""
        try:
            super().run()
        finally:
            self.final_flush.set()
            if self.nats_thread.ident is not None:
                self.nats_thread.join(10)

    # -- the NATS thread ----------------------------------------------------------------------

    def _nats_main(self) -> None:
        """Run the consumer coroutine on this thread's own event loop."""
        try:
            self.loop.run_until_complete(self._consume())
        except Exception:
            logger.exception("the NATS consumer thread failed")
        finally:
            self.loop.close()

    async def _ack(self, msgs: list[Any]) -> None:
        """Ack committed messages (each one: the consumer is shared, so never ack-all)."""
        for msg in msgs:
            try:
                await msg.ack()
            except Exception as exc:  # the message comes back after ack_wait and is a duplicate
                self.rlog.warning("js-ack", "JetStream ack failed: %s", exc)

    async def _consume(self) -> None:
        """Connect, make sure the stream and the shared durable exist, and pull until stopped."""
        broker, gw = self.cfg.broker, self.gw
        nc = await self._connect_nats()
        if nc is None:
            return
        js = nc.jetstream(timeout=5)
        sub = None
        while not self.stop.is_set() and sub is None:
            try:
                await self._ensure_stream(js)
                sub = await js.pull_subscribe(
                    parcel_subject(broker.topic_prefix), durable=broker.nats_durable,
                    stream=broker.nats_stream, config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                        ack_wait=broker.nats_ack_wait_s, max_ack_pending=8 * gw.batch_size,
                        max_deliver=-1,
                    ),
                )  # fmt: skip
            except Exception as exc:
                self.rlog.warning("js-setup", "JetStream not ready (%s); retrying", exc)
                await asyncio.sleep(1.0)
        self.js_ready = sub is not None
        self.next_tick = 0.0
        while sub is not None and not self.stop.is_set():
            if self.inbox.qsize() >= 2 * gw.batch_size:  # the store is behind: pull no more
                await asyncio.sleep(0.01)
                continue
            try:
                msgs = await sub.fetch(gw.batch_size, timeout=1.0)
            except NatsTimeout:
                continue
            except Exception as exc:
                self.rlog.warning("js-fetch", "JetStream fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                self.inbox.put((msg.subject, msg.data, msg))
        self.js_ready = False
        await asyncio.get_running_loop().run_in_executor(None, self.final_flush.wait, 10)
        await self._nak_unbatched()
        await nc.flush(timeout=3)
        await nc.close()

    async def _connect_nats(self) -> Any:
        """Connect to the first NATS node that answers, retrying until stopped (None then)."""
        while not self.stop.is_set():
            try:
                return await nats.connect(
                    servers=self.cfg.broker.nats_urls, name=self.client_id, connect_timeout=2,
                    max_reconnect_attempts=-1, reconnect_time_wait=0.5, allow_reconnect=True,
                    error_cb=self._nats_error, disconnected_cb=self._nats_disconnected,
                    reconnected_cb=self._nats_reconnected,
                )  # fmt: skip
            except Exception as exc:  # no node answers yet: nats-py gives up on a first connect
                self.rlog.warning("nats", "NATS %s unreachable: %s", self.cfg.broker.nats_urls, exc)
                await asyncio.sleep(1.0)
        return None

    async def _nats_error(self, exc: Exception) -> None:
        """Log a NATS link error on one line (a lost node is expected, not a crash)."""
        self.rlog.warning("nats-error", "NATS link error: %s", exc or type(exc).__name__)

    async def _nats_disconnected(self) -> None:
        """Log that the NATS link dropped; nats-py reconnects to another node by itself."""
        logger.warning("NATS disconnected; reconnecting to %s", self.cfg.broker.nats_urls)

    async def _nats_reconnected(self) -> None:
        """Log that nats-py found another node."""
        logger.info("NATS reconnected")

    async def _nak_unbatched(self) -> None:
        """Hand back pulled messages no batch took, so another gateway gets them at once."""
        while True:
            try:
                _, _, msg = self.inbox.get_nowait()
            except queue.Empty:
                return
            try:
                await msg.nak()
            except Exception as exc:
                logger.debug("nak failed: %s", exc)

    async def _ensure_stream(self, js: Any) -> None:
        """Create the parcel stream (work queue: an acked message is removed) unless it exists."""
        broker = self.cfg.broker
        config = StreamConfig(
            name=broker.nats_stream, subjects=[parcel_subject(broker.topic_prefix)],
            retention=RetentionPolicy.WORK_QUEUE, num_replicas=broker.nats_replicas,
            max_age=float(broker.session_expiry_s) or None,
        )  # fmt: skip
        try:
            await js.add_stream(config)
        except BadRequestError as exc:  # exists with another config: use it as it is
            info = await js.stream_info(broker.nats_stream)
            logger.warning("stream %s exists with other settings (%s): %s", info.config.name,
                           exc, info.config.subjects)  # fmt: skip
