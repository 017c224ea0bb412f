"""Dead letters: one row per distinct rejected message; the same message again bumps `repeats`.

An edge re-sends a parcel the gateway rejected after every ack timeout and reconnect (it keeps
the original until a fixed gateway stores it), so a row per arrival would grow without bound.
Messages are the same when their topic and payload bytes are: the sha256 `digest` of both.
"""

import hashlib
import sqlite3
from typing import NamedTuple

MAX_TEXT = 512  # longest topic or reason kept in a dead letter
CHUNK = 500  # digests per IN (...) query, well under SQLite's variable limit
UPSERT_SQL = (
    "INSERT INTO dead_letters (received_ms, topic, station, payload, payload_bytes, reason,"
    " digest, repeats, last_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (digest) DO UPDATE SET repeats = repeats + excluded.repeats,"
    " last_ms = max(coalesce(last_ms, received_ms), excluded.last_ms), reason = excluded.reason"
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
        topic[:MAX_TEXT],
        station,
        payload[:keep],
        len(payload),
        reason[:MAX_TEXT] or "rejected",
        digest(topic, payload),
    )


def write(conn: sqlite3.Connection, letters: list[DeadLetter]) -> tuple[int, int]:
    """Store dead letters inside the caller's transaction; return (new rows, repeats)."""
    merged: dict[str, tuple[DeadLetter, int, int]] = {}  # digest -> (first, count, last_ms)
    for letter in letters:
        first, count, last = merged.get(letter.digest, (letter, 0, letter.received_ms))
        merged[letter.digest] = (first, count + 1, max(last, letter.received_ms))
    digests = list(merged)
    known = 0
    for i in range(0, len(digests), CHUNK):
        part = digests[i : i + CHUNK]
        marks = ",".join("?" * len(part))
        sql = f"SELECT count(*) FROM dead_letters WHERE digest IN ({marks})"
        known += conn.execute(sql, part).fetchone()[0]
    conn.executemany(
        UPSERT_SQL, [(*first[:6], first.digest, n, last) for first, n, last in merged.values()]
    )
    new = len(merged) - known
    return new, len(letters) - new
