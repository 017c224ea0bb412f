"""Evidence at the gateway: the stations' JPEGs of unread parcels, stored with a size and age bound.

Images arrive on `{station}/evidence/{event_id}/{index}`, on their own, before or after their
parcel. The ingest keeps them apart from the parcel batches: they are written in a commit of
their own and PUBACKed after it, like hold requests. What is not stored is PUBACKed too and
counted, never re-delivered forever: an image over `[clearing] evidence_max_kb`, bytes that are
not a JPEG, or more images than fit the memory bound while the store is slow. The lease holder
deletes images older than `evidence_days` and the oldest beyond `evidence_max_mb`.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from dockscan.config import ClearingConfig
from dockscan.errors import ContractError
from dockscan.logs import RateLimitedLog
from dockscan.topics import Topics
from gateway.store import transaction

logger = logging.getLogger(__name__)
JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
MAX_PENDING_BYTES = 32 * 1024 * 1024  # images held in memory until their commit
INSERT_SQL = (
    "INSERT INTO evidence (event_id, idx, station, received_ms, bytes, jpeg)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, idx) DO NOTHING"
)
DAY_MS = 86_400_000
SLICE_ROWS = 200


@dataclass(frozen=True)
class Image:
    """One evidence JPEG as received."""

    event_id: str
    index: int
    station: str
    received_ms: int
    jpeg: bytes


def is_jpeg(data: bytes) -> bool:
    """Return whether bytes look like a whole JPEG (start and end markers)."""
    return data.startswith(JPEG_START) and data.rstrip(b"\x00").endswith(JPEG_END)


@dataclass
class EvidenceIntake:
    """Images received since the last commit, and the PUBACKs that wait for it."""

    topics: Topics
    max_bytes: int
    images: list[Image] = field(default_factory=list)
    pubacks: list[tuple[int, int]] = field(default_factory=list)
    dropped: dict[str, float] = field(default_factory=dict)
    pending_bytes: int = 0
    rlog: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(logger))

    def __len__(self) -> int:
        """Return how many messages wait for their commit (images and drops)."""
        return len(self.pubacks) + len(self.images)

    def offer(self, topic: str, payload: bytes, received_ms: int, mid: int, qos: int) -> None:
        """Keep an image for the next commit, or count why it is dropped (paho's thread)."""
        if qos:
            self.pubacks.append((mid, qos))
        reason, detail = "", ""
        try:
            parts = self.topics.parse(topic)
        except ContractError as exc:
            parts, detail = None, str(exc)
        if parts is None or parts.kind != "evidence":
            reason, detail = "bad_topic", detail or "not an evidence topic"
        elif len(payload) > self.max_bytes:
            reason, detail = "oversize", f"{len(payload)} bytes > {self.max_bytes}"
        elif not is_jpeg(payload):
            reason, detail = "not_jpeg", "not a whole JPEG"
        elif self.pending_bytes + len(payload) > MAX_PENDING_BYTES:
            reason, detail = "busy", "too many images wait for the store"
        if reason or parts is None:
            key = f"evidence_dropped_{reason}_total"
            self.dropped[key] = self.dropped.get(key, 0) + 1
            self.rlog.warning(
                key, "evidence image on %.200s dropped (%s): %s", topic, reason, detail
            )
            return
        event_id, index = parts.name.split("/")
        self.images.append(Image(event_id, int(index), parts.station, received_ms, payload))
        self.pending_bytes += len(payload)

    def apply(self, conn: Any) -> dict[str, float]:
        """Store the images in one commit; return the counts to add to the counters."""
        rows = [(i.event_id, i.index, i.station, i.received_ms, len(i.jpeg), i.jpeg)
                for i in self.images]  # fmt: skip
        if rows:
            with transaction(conn):
                conn.executemany(INSERT_SQL, rows)
        counts = {**self.dropped, "evidence_received_total": len(rows)}
        self.images, self.dropped, self.pending_bytes = [], {}, 0
        return counts


def purge(conn: Any, cfg: ClearingConfig, now_ms: int, limit: int = SLICE_ROWS) -> int:
    """Delete one slice of images older than evidence_days or beyond evidence_max_mb."""
    cutoff = now_ms - int(cfg.evidence_days * DAY_MS)
    with transaction(conn):
        deleted = conn.execute(
            "DELETE FROM evidence WHERE (event_id, idx) IN (SELECT event_id, idx FROM evidence"
            " WHERE received_ms < ? ORDER BY received_ms LIMIT ?)",
            (cutoff, limit),
        ).rowcount
        total = conn.execute("SELECT coalesce(sum(bytes), 0) FROM evidence").fetchone()[0]
        excess = total - int(cfg.evidence_max_mb * 1e6)
        if excess > 0:
            deleted += _delete_oldest(conn, excess, limit)
    return deleted


def _delete_oldest(conn: Any, excess: int, limit: int) -> int:
    """Delete the oldest images until `excess` bytes are freed (at most `limit` rows)."""
    victims, freed = [], 0
    for event_id, idx, size in conn.execute(
        "SELECT event_id, idx, bytes FROM evidence ORDER BY received_ms LIMIT ?", (limit,)
    ).fetchall():
        victims.append((event_id, idx))
        freed += size
        if freed >= excess:
            break
    conn.executemany("DELETE FROM evidence WHERE event_id = ? AND idx = ?", victims)
    return len(victims)


def images_of(conn: Any, event_ids: list[str]) -> dict[str, dict[int, tuple[str, int, int]]]:
    """Return each event's stored images: index -> (station, bytes, received ms)."""
    out: dict[str, dict[int, tuple[str, int, int]]] = {e: {} for e in event_ids}
    if not event_ids:
        return out
    marks = ", ".join("?" * len(event_ids))
    for event_id, idx, station, size, received in conn.execute(
        "SELECT event_id, idx, station, bytes, received_ms FROM evidence"
        f" WHERE event_id IN ({marks})",
        event_ids,
    ).fetchall():
        out[event_id][idx] = (station, size, received)
    return out


def image(conn: Any, event_id: str, index: int) -> tuple[str, bytes] | None:
    """Return one stored image's station and JPEG bytes, or None."""
    row = conn.execute(
        "SELECT station, jpeg FROM evidence WHERE event_id = ? AND idx = ?", (event_id, index)
    ).fetchone()
    return (row[0], bytes(row[1])) if row else None
