"""What the site-lease holder publishes for the hub: the retained hold list and the outbound queue.

Hold list: one retained `dockscan.holds/1` on `{site}/hub/holds` whenever the holds version (the
newest hold_history id) differs from the one this gateway last published, and again after a
takeover or a reconnect. A change made by CLI or API while no gateway ran goes out at the
holder's next step (every STEP_S). Building a big list takes the ingest thread a while (about
40 ms per 10,000 holds), so the next list waits at least COST_FACTOR times as long. A message
larger than the broker's maximum packet size (MQTT 5 tells it) is not sent: the broker would
close the connection, again after every reconnect; it is logged instead.

Outbound: the rows any process queued (verdicts a manifest import changed, close-outs, the
clearing desk's corrections) are published in id order at QoS 1, at most WINDOW in flight, and
get `published_ms` only after the broker's PUBACK. A gateway killed before that, or a PUBACK
that never comes, means the row is published again: integrators get each at least once,
possibly twice, never not at all.
"""

import logging
import time
from typing import Any

import paho.mqtt.client as mqtt

from dockscan.errors import ContractError
from dockscan.mqtt import publish_json
from dockscan.topics import Topics
from gateway.clock import now_ms
from gateway.holds import hold_list_json, holds_version, snapshot
from gateway.store import transaction

logger = logging.getLogger(__name__)
STEP_S = 0.25  # how often the holder looks for a new holds version and new outbound rows
WINDOW = 100  # outbound rows published and not yet PUBACKed
PUBACK_TIMEOUT_S = 10.0  # after this a row without PUBACK is published again
COST_FACTOR = 5  # a hold list that took t s to build is followed by the next after >= 5 t
PACKET_SLACK = 512  # a PUBLISH packet's bytes besides topic and payload (header, properties)
PENDING_SQL = (
    "SELECT id, kind, station, payload FROM outbound WHERE published_ms IS NULL ORDER BY id LIMIT ?"
)


class HubPublisher:
    """One gateway's publishing while it holds the site duties."""

    def __init__(self, site: str, topics: Topics) -> None:
        self.site, self.topics = site, topics
        self.holds_topic = topics.hub(site, "holds")
        self.published_version: int | None = None  # None: publish at the next step
        self.in_flight: dict[int, tuple[mqtt.MQTTMessageInfo, float]] = {}  # row id -> info, sent
        self.next_step = self.next_holds = 0.0
        self.max_packet: int | None = None  # the broker's maximum packet size, when it says

    def reset(self, max_packet: int | None = None) -> None:
        """Publish the hold list and every unmarked row again (a takeover or a new connection)."""
        self.published_version = None
        self.in_flight.clear()
        self.next_step = 0.0
        if max_packet is not None:
            self.max_packet = max_packet

    def fits(self, topic: str, payload: bytes) -> bool:
        """Return whether the broker takes a message this big (True when it did not say)."""
        size = len(payload) + len(topic) + PACKET_SLACK
        return self.max_packet is None or size <= self.max_packet

    def due(self) -> bool:
        """Return whether a step is due (every STEP_S)."""
        return time.monotonic() >= self.next_step

    def step(self, conn: Any, client: mqtt.Client) -> None:
        """Publish the hold list if its version moved; mark PUBACKed rows; publish more rows."""
        self.next_step = time.monotonic() + STEP_S
        self.publish_holds(conn, client)
        self.mark_published(conn)
        self.publish_rows(conn, client)

    def publish_holds(self, conn: Any, client: mqtt.Client) -> bool:
        """Publish the retained hold list when its version differs from the last one sent."""
        if time.monotonic() < self.next_holds or holds_version(conn) == self.published_version:
            return False
        started = time.monotonic()
        version, holds = snapshot(conn)
        payload = hold_list_json(self.site, version, holds)
        self.next_holds = time.monotonic() + COST_FACTOR * (time.monotonic() - started)
        if not self.fits(self.holds_topic, payload):
            logger.error(
                "hold list version %d is %d bytes (%d holds), more than the broker's maximum"
                " packet size %s: not published; stations keep the last list they got",
                version, len(payload), len(holds), self.max_packet,
            )  # fmt: skip
            self.published_version = version  # not again until the list changes
            return False
        info = publish_json(client, self.holds_topic, payload, qos=1, retain=True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            logger.warning("could not publish the hold list: %s", mqtt.error_string(info.rc))
            return False
        logger.info("published hold list version %d (%d holds, %d bytes)", version, len(holds),
                    len(payload))  # fmt: skip
        self.published_version = version
        return True

    def mark_published(self, conn: Any) -> int:
        """Set published_ms on the rows the broker acknowledged; forget failed and late ones."""
        done, late = [], time.monotonic() - PUBACK_TIMEOUT_S
        for row_id, (info, sent) in list(self.in_flight.items()):
            state = acknowledged(info)
            if state:
                done.append(row_id)
            elif state is None or sent < late:
                logger.warning("outbound row %d not acknowledged: publishing it again", row_id)
            else:
                continue
            del self.in_flight[row_id]
        if done:
            self._mark(conn, done)
        return len(done)

    def _mark(self, conn: Any, ids: list[int]) -> None:
        """Set published_ms on these rows in one transaction."""
        marks = ", ".join("?" * len(ids))
        with transaction(conn):
            conn.execute(
                f"UPDATE outbound SET published_ms = ? WHERE id IN ({marks})", [now_ms(), *ids]
            )

    def publish_rows(self, conn: Any, client: mqtt.Client) -> int:
        """Publish unpublished rows in id order until WINDOW are in flight; return how many."""
        room = WINDOW - len(self.in_flight)
        if room <= 0:
            return 0
        rows = conn.execute(PENDING_SQL, (WINDOW + len(self.in_flight),)).fetchall()
        sent, unknown = 0, []
        for row_id, kind, station, payload in rows:
            if row_id in self.in_flight:
                continue
            if sent >= room:
                break
            try:
                topic, data = self.topic(kind, station), payload.encode()
                if not self.fits(topic, data):
                    raise ContractError(f"{len(data)} bytes, over the broker's {self.max_packet}")
            except ContractError as exc:
                logger.error("outbound row %d cannot be published (%s): dropped", row_id, exc)
                unknown.append(row_id)
                continue
            info = publish_json(client, topic, data, qos=1)
            self.in_flight[row_id] = (info, time.monotonic())
            sent += 1
        if unknown:
            self._mark(conn, unknown)  # never publishable: marked, so retention deletes them
        return sent

    def topic(self, kind: str, station: str) -> str:
        """Return the topic of an outbound row (ContractError for a kind or station unknown)."""
        if kind == "verdict":
            return self.topics.verdict(self.site, station)
        if kind == "correction":
            return self.topics.correction(self.site, station)
        if kind == "closeout":
            return self.topics.hub(self.site, "closeout")
        raise ContractError(f"unknown outbound kind {kind!r}")


def acknowledged(info: mqtt.MQTTMessageInfo) -> bool | None:
    """Return True once the broker PUBACKed, False while waiting, None if the publish failed."""
    try:
        return info.is_published()
    except (ValueError, RuntimeError):  # not queued, or not sent: publish it again
        return None
