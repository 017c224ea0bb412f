"""The outbox's schema, rows, figures and typed errors (full by count, full on disk)."""

import errno
import sqlite3
from dataclasses import dataclass

from dockscan.errors import StoreError

DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending, sent (PUBACKed, awaiting gateway ack)
    created_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxFull(StoreError):
    """The outbox is at its bound and the overflow policy is `block`: the event was refused."""


class OutboxDiskFull(StoreError):
    """The outbox file reached its size cap or its disk is full: nothing was written."""


def is_disk_full(exc: BaseException) -> bool:
    """Return whether an error means no space: SQLITE_FULL (max_page_count) or ENOSPC."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == sqlite3.SQLITE_FULL) or (
            "database or disk is full" in str(exc)
        )
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


@dataclass(frozen=True)
class Row:
    """One stored event, payload bytes exactly as first serialised."""

    seq: int
    event_id: str
    topic: str
    payload: bytes


@dataclass(frozen=True)
class OutboxStats:
    """Depth and age figures for telemetry, the screen and `dockscan edge outbox`."""

    depth: int
    pending: int
    sent: int
    oldest_age_s: float | None
    next_seq: int
    session: int
    dropped: int
    refused: int
    disk_full: int
