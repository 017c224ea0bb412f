"""Evidence uploads: the JPEGs of unread parcels go to the gateway after their event, never before.

A small SQLite queue beside the outbox (`<outbox>.evidence.db`) names each image to send: the
event id, the image's index in the event and its file name. The publisher thread sends a few at
a time (IN_FLIGHT) at QoS 1 on `{station}/evidence/{event_id}/{index}` while connected, and a
row is deleted on the broker's PUBACK: the broker then holds it in the gateway's persistent
session. Images are evidence, not records, so delivery is best effort with every loss counted:
a file the evidence folder's size limit already deleted (`evidence_lost`), one over the size
cap (`evidence_oversize`), a row older than `max_age_s` (`evidence_expired`), the oldest rows
beyond MAX_ROWS (`evidence_dropped`). The gateway shows an image that never came as missing.
The event itself never waits: it is in the outbox before its images are queued here.
"""

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from dockscan.topics import Topics

logger = logging.getLogger(__name__)
IN_FLIGHT = 2  # images published and not yet PUBACKed
RESEND_S = 60.0  # an image without PUBACK after this is published again
MAX_ROWS = 2000  # images waiting; beyond this the oldest are dropped
EXPIRE_EVERY_S = 60.0
DELETE_SQL = "DELETE FROM uploads WHERE event_id = ? AND idx = ?"
DDL = """
CREATE TABLE IF NOT EXISTS uploads (
    event_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    added_ms INTEGER NOT NULL,
    PRIMARY KEY (event_id, idx)
);
CREATE INDEX IF NOT EXISTS uploads_order ON uploads (added_ms, event_id, idx);
"""


def uploads_path(outbox: str | Path) -> Path:
    """Return where a station keeps its evidence queue: next to its outbox."""
    return Path(f"{outbox}.evidence.db")


class EvidenceUploads:
    """The queue of evidence images to send, and the sending (publisher thread only)."""

    def __init__(
        self,
        path: str | Path,
        topics: Topics,
        site: str,
        station: str,
        locate: Callable[[str], Path | None],
        max_bytes: int,
        max_age_s: float = 86_400.0,
    ) -> None:
        self.topics, self.site, self.station = topics, site, station
        self.locate, self.max_bytes, self.max_age_s = locate, max_bytes, max_age_s
        self.counters: Counter[str] = Counter()
        self.in_flight: dict[int, tuple[str, int, float]] = {}  # mid -> event, index, sent at
        self._pubacked: list[int] = []
        self._next_expiry = 0.0
        self._lock = threading.Lock()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # losing the last rows loses only images
        self._db.executescript(DDL)

    def queue(self, event_id: str, names: list[str]) -> None:
        """Queue an event's images, in order (called once the event is in the outbox)."""
        if not names:
            return
        now = int(time.time() * 1000)
        rows = [(event_id, i, name, now) for i, name in enumerate(names)]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR IGNORE INTO uploads VALUES (?, ?, ?, ?)", rows)
            excess = self._db.execute("SELECT count(*) FROM uploads").fetchone()[0] - MAX_ROWS
            if excess > 0:
                self._db.execute(
                    "DELETE FROM uploads WHERE rowid IN"
                    " (SELECT rowid FROM uploads ORDER BY added_ms, event_id, idx LIMIT ?)",
                    (excess,),
                )
                self.counters["evidence_dropped"] += excess
            self._db.execute("COMMIT")
        self.counters["evidence_queued"] += len(rows)

    def on_puback(self, mid: int) -> None:
        """Note a PUBACK (paho thread); mids of other publishes are ignored in `step`."""
        with self._lock:
            self._pubacked.append(mid)

    @property
    def pending(self) -> int:
        """Return how many images wait to be sent or PUBACKed."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM uploads").fetchone()[0]

    def stats(self) -> dict[str, int]:
        """Return the counters with the queue's depth, for telemetry."""
        return {**self.counters, "evidence_pending": self.pending}

    def step(self, client: mqtt.Client | None, connected: bool) -> int:
        """Forget PUBACKed images, expire old ones; when connected, send more; return sent."""
        self._apply_pubacks()
        self._expire()
        late = time.monotonic() - RESEND_S
        self.in_flight = {m: v for m, v in self.in_flight.items() if v[2] >= late}
        if not connected or client is None:
            return 0
        sent = 0
        busy = {(e, i) for e, i, _ in self.in_flight.values()}
        while len(self.in_flight) < IN_FLIGHT:
            row = self._next(busy)
            if row is None:
                break
            event_id, index, name = row
            busy.add((event_id, index))
            data = self._read(event_id, index, name)
            if data is None:
                continue
            topic = self.topics.evidence(self.site, self.station, event_id, index)
            info = client.publish(topic, data, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break  # not queued by paho (link lost): the row stays for the next step
            self.in_flight[info.mid] = (event_id, index, time.monotonic())
            sent += 1
        return sent

    def _next(self, busy: set[tuple[str, int]]) -> tuple[str, int, str] | None:
        """Return the oldest image not in flight."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, idx, name FROM uploads ORDER BY added_ms, event_id, idx LIMIT ?",
                (len(busy) + 1,),
            ).fetchall()
        return next(((e, i, n) for e, i, n in rows if (e, i) not in busy), None)

    def _read(self, event_id: str, index: int, name: str) -> bytes | None:
        """Return an image's bytes, or drop its row (counted) when it cannot be sent."""
        path = self.locate(name)
        data = None
        try:
            data = path.read_bytes() if path is not None else None
        except OSError as exc:
            logger.warning("evidence image %s unreadable: %s", name, exc)
        if data is None:
            self._drop(event_id, index, "evidence_lost")
        elif len(data) > self.max_bytes:
            self._drop(event_id, index, "evidence_oversize")
            data = None
        return data

    def _drop(self, event_id: str, index: int, counter: str) -> None:
        """Delete one row and count why."""
        with self._lock:
            self._db.execute(
                "DELETE FROM uploads WHERE event_id = ? AND idx = ?", (event_id, index)
            )
        self.counters[counter] += 1
        logger.warning("evidence image %d of %s not sent: %s", index, event_id, counter)

    def _apply_pubacks(self) -> None:
        """Delete the rows whose publish the broker acknowledged."""
        with self._lock:
            mids, self._pubacked = self._pubacked, []
        done = [self.in_flight.pop(m)[:2] for m in mids if m in self.in_flight]
        if done:
            with self._lock:
                self._db.executemany(DELETE_SQL, done)
            self.counters["evidence_sent"] += len(done)

    def _expire(self) -> None:
        """Drop rows older than max_age_s (the gateway then shows those images as missing)."""
        if time.monotonic() < self._next_expiry:
            return
        self._next_expiry = time.monotonic() + EXPIRE_EVERY_S
        cutoff = int((time.time() - self.max_age_s) * 1000)
        with self._lock:
            gone = self._db.execute("DELETE FROM uploads WHERE added_ms < ?", (cutoff,)).rowcount
        if gone:
            self.counters["evidence_expired"] += gone
            logger.warning("%d evidence images waited over %.0f s: dropped", gone, self.max_age_s)

    def close(self) -> None:
        """Close the queue's database."""
        with self._lock:
            self._db.close()
