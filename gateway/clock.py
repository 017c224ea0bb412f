"""Epoch-millisecond time, the unit of every timestamp column in the store."""

import time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(ts: datetime) -> int:
    """Return a timezone-aware datetime as integer epoch milliseconds (exact)."""
    return (ts - EPOCH) // timedelta(milliseconds=1)


def now_ms() -> int:
    """Return the wall clock as integer epoch milliseconds."""
    return time.time_ns() // 1_000_000


def from_ms(ms: int) -> datetime:
    """Return epoch milliseconds as an aware UTC datetime."""
    return EPOCH + timedelta(milliseconds=ms)
