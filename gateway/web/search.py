"""Parcel search parameters: parsing and validation shared by the pages, the CSV and the API."""

import base64
import binascii
import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from dockscan.events import Outcome
from gateway.web.formatting import parse_time
from gateway.web.queries import ParcelFilter

MIN_PREFIX = 3
MAX_MS = 2**63 - 1  # the stores' epoch-ms columns are 64-bit integers
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EVENT_ID = re.compile(r"^[0-9a-f-]{36}$")


class BadQuery(ValueError):
    """A search parameter is invalid; the message names the parameter."""


def encode_cursor(ts_ms: int, event_id: str) -> str:
    """Encode the position after a row as an opaque cursor."""
    return base64.urlsafe_b64encode(f"{ts_ms}:{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """Decode a cursor made by encode_cursor, or raise BadQuery."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, event_id = raw.split(":", 1)
        if not _EVENT_ID.match(event_id) or not 0 <= int(ts) <= MAX_MS:
            raise ValueError(event_id)
        return int(ts), event_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadQuery("cursor: not a cursor this server issued") from None


def parse_filter(args: Mapping[str, str], zone: ZoneInfo) -> ParcelFilter:
    """Build a ParcelFilter from query parameters (barcode, match, station, outcome, since, ...)."""
    barcode = args.get("barcode", "").strip("\r\n")
    match = args.get("match", "exact") or "exact"
    if match not in ("exact", "prefix"):
        raise BadQuery("match: use exact or prefix")
    if match == "prefix" and barcode and len(barcode) < MIN_PREFIX:
        raise BadQuery(f"barcode: a prefix search needs at least {MIN_PREFIX} characters")
    station = args.get("station", "").strip()
    if station and not _ID.match(station):
        raise BadQuery("station: must match [A-Za-z0-9_-]{1,64}")
    outcome = args.get("outcome", "").strip()
    if outcome and outcome not in Outcome.__members__:
        raise BadQuery(f"outcome: one of {', '.join(Outcome.__members__)}")
    times: dict[str, int | None] = {}
    for name in ("since", "until"):
        value = args.get(name, "").strip()
        try:
            times[name] = parse_time(value, zone) if value else None
        except (ValueError, OverflowError) as exc:
            raise BadQuery(f"{name}: {exc}") from None
        if times[name] is not None and not -MAX_MS <= times[name] <= MAX_MS:  # type: ignore[operator]
            raise BadQuery(f"{name}: {value!r} is out of range")
    cursor = args.get("cursor", "").strip()
    return ParcelFilter(
        barcode=barcode,
        prefix=match == "prefix",
        station=station,
        outcome=outcome,
        since_ms=times["since"],
        until_ms=times["until"],
        after=decode_cursor(cursor) if cursor else None,
    )


def parse_limit(args: Mapping[str, str], default: int, maximum: int = 500) -> int:
    """Read the page size from `limit`, bounded to 1..maximum."""
    raw = args.get("limit", "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadQuery(f"limit: a whole number from 1 to {maximum}")
    return int(raw)


def is_event_id(value: str) -> bool:
    """Return whether value looks like an event id (UUID text)."""
    return bool(_EVENT_ID.match(value))
