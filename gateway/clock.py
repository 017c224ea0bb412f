"""Epoch-millisecond time, the unit of every timestamp column in the store."""

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

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


@lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    """Return `YYYY-MM-DDTHH:MM:SS.` of an epoch second (parcels of a batch share a few)."""
    return (EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.")


def iso_from_ms(ms: int) -> str:
    """Return epoch milliseconds as ISO 8601 UTC, milliseconds and Z (as dockscan.ids.iso_ms)."""
    second, milli = divmod(ms, 1000)
    return f"{_iso_second(second)}{milli:03d}Z"
