"""Dead letters: one row per distinct rejected message; the same message again bumps `repeats`.

An edge re-sends a parcel the gateway rejected after every ack timeout and reconnect (it keeps
the original until a fixed gateway stores it), so a row per arrival would grow without bound.
Messages are the same when their topic and payload bytes are: the sha256 `digest` of both.
"""

import hashlib
from typing import NamedTuple

from gateway.db import Connection

MAX_TEXT = 512  # longest topic or reason kept in a dead letter
CHUNK = 500  # digests per IN (...) query, well under SQLite's variable limit
# PostgreSQL: gateways sharing the store write dead letters one transaction at a time, so each
# counts what is new exactly and none waits on another's digests in the opposite order.
WRITE_LOCK_SQL = f"SELECT pg_advisory_xact_lock({0x646F636C})"
UPSERT_SQL = (
    "INSERT INTO dead_letters (received_ms, topic, station, payload, payload_bytes, reason,"
    " digest, repeats, last_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (digest) DO UPDATE SET repeats = dead_letters.repeats + excluded.repeats,"
    " last_ms = greatest(coalesce(dead_letters.last_ms, dead_letters.received_ms),"
    " excluded.last_ms), reason = excluded.reason"
)


class DeadLetter(NamedTuple):
    """One rejected message as stored: topic, reason and payload cut short, digest over all."""

    received_ms: int
    topic: str
    station: str | None
    payload: bytes  # truncated to gateway.dead_letter_payload_bytes
    payload_bytes: int  # the full size
    reason: str
    digest: str  # sha256 of the whole topic and payload


def digest(topic: str, payload: bytes) -> str:
    """Return the identity of a message: sha256 over its topic, a NUL and its payload."""
    return hashlib.sha256(topic.encode("utf-8", "surrogatepass") + b"\0" + payload).hexdigest()


def dead_letter(
    received_ms: int, topic: str, station: str | None, payload: bytes, reason: str, keep: int
) -> DeadLetter:
    """Return the dead letter for a message, keeping `keep` payload bytes (both texts cut)."""
    return DeadLetter(
        received_ms,
        _text(topic),
        station,
        payload[:keep],
        len(payload),
        _text(reason) or "rejected",
        digest(topic, payload),
    )


def _text(text: str) -> str:
    """Return a topic or reason cut short, a NUL written out (PostgreSQL text refuses NUL)."""
    return text.replace("\x00", "\\x00")[:MAX_TEXT]


def write(conn: Connection, letters: list[DeadLetter]) -> tuple[int, int]:
    """Store dead letters inside the caller's transaction; return (new rows, repeats)."""
    merged: dict[str, tuple[DeadLetter, int, int]] = {}  # digest -> (first, count, last_ms)
    for letter in letters:
        first, count, last = merged.get(letter.digest, (letter, 0, letter.received_ms))
        merged[letter.digest] = (first, count + 1, max(last, letter.received_ms))
    digests = list(merged)  # ids keep the arrival order
    if conn.dialect == "postgresql":  # SQLite's write transaction already holds the file
        conn.execute(WRITE_LOCK_SQL)
    known = 0
    for i in range(0, len(digests), CHUNK):
        part = digests[i : i + CHUNK]
        marks = ",".join("?" * len(part))
        sql = f"SELECT count(*) FROM dead_letters WHERE digest IN ({marks})"
        known += conn.execute(sql, part).fetchone()[0]
    conn.executemany(
        UPSERT_SQL,
        [(*first[:6], first.digest, n, last) for first, n, last in (merged[d] for d in digests)],
    )
    new = len(merged) - known
    return new, len(letters) - new
