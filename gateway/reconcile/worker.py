"""The reconciler process (`dockscan gateway reconcile`): verdicts for the queued parcels.

`gateway run` starts one beside its ingest, so judging runs on another core than the ingest.
It polls the verdict queue (gateway/reconcile/queue.py); when rows wait, it judges the oldest,
up to DRAIN_LIMIT parcels, in one transaction (verdicts stored, rows deleted), then publishes each
station's new verdicts on its `verdict` topic, as the ingest publishes its acks. A SIGKILL
before the commit leaves the rows for the next reconciler; after it, the verdicts are stored
and a station sees them again when it re-sends the parcel. Reconcilers of several gateways on
one store take turns (SQLite's writer lock, an advisory lock on PostgreSQL). Started with
`--parent`, it stops when that process is gone; on SIGTERM it first judges what is left.
"""

import contextlib
import logging
import os
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from dockscan.config import SiteConfig
from dockscan.logs import RateLimitedLog
from dockscan.mqtt import connect, make_client, no_delay, publish_json, rotate, topics_for
from gateway.clock import now_ms
from gateway.manifests.importer import classifier_for
from gateway.outage import STORE_ERRORS, one_line
from gateway.reconcile import queue
from gateway.reconcile.matcher import DRAIN_LIMIT, QueueRace, Reconciler, verdict_batch_json
from gateway.store import open_db, transaction

logger = logging.getLogger(__name__)
POLL_S = 0.01  # how often an empty queue is looked at (the verdict's extra latency at most)
RETRY_S = (0.25, 5.0)  # backoff after a store error: first, longest
FINAL_S = 10.0  # at most this long judging what is left after SIGTERM


class ReconcileWorker:
    """Judges queued parcels and publishes their verdicts until `stop` is set."""

    def __init__(self, cfg: SiteConfig, stop: threading.Event, parent: int | None = None) -> None:
        self.cfg, self.stop, self.parent = cfg, stop, parent
        self.reconciler = Reconciler(cfg, classifier_for(cfg))
        self.topics = topics_for(cfg.broker)
        self.client_id = f"{cfg.gateway.id}-reconcile"
        self.rlog = RateLimitedLog(logger)
        self.conn: Any = None
        self.client: mqtt.Client | None = None
        self.judged = 0
        self.retry_s = RETRY_S[0]

    def run(self) -> None:
        """Open the store, then connect to the broker; judge and publish until stopped."""
        try:
            while not self.stop.is_set() and self._parent_alive():
                if not self.step():
                    self.stop.wait(POLL_S)
            if self._parent_alive():
                self._finish()
        finally:
            if self.client is not None:
                self.client.disconnect()
                self.client.loop_stop()
            if self.conn is not None:
                self.conn.close()
        logger.info("reconciler %s stopped after %d verdicts", self.client_id, self.judged)

    def step(self) -> bool:
        """Judge one transaction's worth of queued parcels and publish; return whether any."""
        try:
            conn = self.conn if self.conn is not None else self._open()
            if self.client is None:  # as the ingest: no MQTT before the store is open
                self._connect()
            if not queue.pending(conn):
                return False
            if conn.dialect == "sqlite":
                judged = self.reconciler.drain_ahead(conn)
            else:
                with transaction(conn):
                    judged = self.reconciler.drain(conn, now_ms())
        except QueueRace as exc:  # another judged these rows meanwhile: try again
            logger.info("%s; judging again", exc)
            return True
        except STORE_ERRORS as exc:
            self.rlog.warning("store", "reconciler: store error (%s), retrying in %.2f s",
                              one_line(exc), self.retry_s)  # fmt: skip
            self._reset()
            return False
        self.retry_s = RETRY_S[0]
        self._publish(judged)
        return bool(judged)

    def _connect(self) -> None:
        """Create the MQTT client and let paho's thread connect (and reconnect) it."""
        client = self.client = make_client(self.cfg.broker, self.client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        connect(client, self.cfg.broker)
        client.loop_start()

    def _open(self) -> Any:
        """Open the store (SQLite: see below) and keep the connection."""
        conn = self.conn = open_db(self.cfg.gateway.database, self.cfg.gateway.database_password())
        if conn.dialect == "sqlite":
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # the ingest's checkpointer does it
            # A commit here need not wait for the disk: the verdicts are derived, and their queue
            # rows are deleted in the same commit, so a power cut that loses it (never a crash
            # of the process) brings the rows back to be judged again. The ingest's next commit
            # (synchronous FULL) makes it durable with its own.
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _publish(self, judged: dict[str, list[dict]]) -> None:
        """Publish each station's new verdicts (QoS 1; stored whether or not this arrives)."""
        assert self.client is not None
        site = self.cfg.site.id
        for station, verdicts in judged.items():
            for i in range(0, len(verdicts), DRAIN_LIMIT):  # a queue row may hold more
                part = verdicts[i : i + DRAIN_LIMIT]
                payload = verdict_batch_json(site, station, self.cfg.gateway.id, part)
                publish_json(self.client, self.topics.verdict(site, station), payload, qos=1)
            self.judged += len(verdicts)

    def _finish(self) -> None:
        """After SIGTERM: judge what is queued (the ingest's last batch too), within FINAL_S."""
        deadline, empty = time.monotonic() + FINAL_S, 0
        while time.monotonic() < deadline and empty < 2:
            if self.step():
                empty = 0
            else:
                empty += 1
                time.sleep(0.25)

    def _reset(self) -> None:
        """Drop the connection after a store error and wait before the next attempt."""
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already gone
                self.conn.close()
            self.conn = None
        if self.stop.is_set():  # judging the rest before exiting: the event no longer waits
            time.sleep(self.retry_s)
        else:
            self.stop.wait(self.retry_s)
        self.retry_s = min(RETRY_S[1], self.retry_s * 2)

    def _parent_alive(self) -> bool:
        """Return whether the process that started us still runs (True when none was named)."""
        return self.parent is None or os.getppid() == self.parent

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """Turn off Nagle (a verdict is one small packet) or log a refused connection."""
        if reason_code.is_failure:
            self.rlog.warning("refused", "broker refused the reconciler: %s", reason_code)
            return
        no_delay(client)
        logger.info("reconciler connected to %s:%d as %s", client.host, client.port,
                    self.client_id)  # fmt: skip

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """Note the lost connection; paho's thread reconnects (to the next node, if several)."""
        if not self.stop.is_set():
            self.rlog.warning("disconnected", "reconciler disconnected: %s", reason_code)
        rotate(client, self.cfg.broker)


def judge_pending(conn: Any, cfg: SiteConfig) -> int:
    """Judge every queued parcel now, in one transaction of the caller's process; count them.

    A close-out calls this first, so its report sees a verdict for every parcel stored before
    it. The verdicts go to the outbound queue, which the lease holder publishes.
    """
    if not cfg.reconcile.enabled:
        return 0
    reconciler, judged = Reconciler(cfg, classifier_for(cfg)), 0
    with transaction(conn):
        now = now_ms()
        while verdicts := reconciler.drain(conn, now):
            for station, batch in sorted(verdicts.items()):
                reconciler.queue(conn, station, batch, now)
                judged += len(batch)
    return judged
