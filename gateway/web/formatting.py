"""Presentation helpers: site-time formatting, relative ages, visible control characters."""

import functools
import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dockscan.ids import iso_ms

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def now_ms() -> int:
    """Return the current time in UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


@functools.lru_cache(maxsize=8192)
def utc_iso(ms: int | None) -> str | None:
    """Format UTC epoch ms as ISO 8601 with a Z, or None."""
    if ms is None:
        return None
    return iso_ms(datetime.fromtimestamp(ms / 1000, UTC))


@functools.lru_cache(maxsize=8192)
def local_time(ms: int | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Format UTC epoch ms in the site's time zone ('' for None)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, zone).strftime(fmt)


def age(ms: int | None, now: int | None = None) -> str:
    """Render how long ago `ms` was, e.g. '42 s', '3 min', '2 h 5 min', '4 d' ('never' for None)."""
    if ms is None:
        return "never"
    seconds = max(0, ((now if now is not None else now_ms()) - ms) // 1000)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


def visible(text: str | bytes | None) -> str:
    """Show control characters as Unicode control pictures (GS -> ␝); markup is escaped later."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return _CONTROL.sub(lambda m: "\u2421" if m[0] == "\x7f" else chr(0x2400 + ord(m[0])), text)


def percent(part: int, whole: int) -> str:
    """Format part/whole as a percentage with one decimal, or '–' when whole is 0."""
    if not whole:
        return "–"
    return f"{100 * part / whole:.1f} %"


def parse_time(value: str, zone: ZoneInfo) -> int:
    """Parse epoch ms digits or ISO 8601 (naive means site time) into UTC epoch ms."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value!r} (use ISO 8601 or epoch ms)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return int(parsed.timestamp() * 1000)


def day_start_ms(now: int, zone: ZoneInfo) -> int:
    """Return UTC epoch ms of local midnight today in the site's time zone."""
    local = datetime.fromtimestamp(now / 1000, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)
