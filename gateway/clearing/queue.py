"""The clearing queue: unread parcels nobody has resolved yet, by dock and shift, oldest first.

Shifts start at the `[clearing] shifts` times in the site's time zone; a shift runs until the
next start (the last one of a day until the first of the next day). Time to clear is measured
on the gateway's clock, from the parcel's arrival to its first correction.
"""

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.evidence import images_of

QUEUE_COLUMNS = (
    "p.event_id, p.station, p.dock, p.ts_ms, p.received_ms, p.outcome, p.weight_kg, p.payload"
)
CLEAR_SAMPLE = 2000  # the latest first corrections the median time to clear is taken over


@dataclass(frozen=True)
class Shift:
    """One shift: its label and its bounds in epoch ms."""

    label: str
    start_ms: int
    end_ms: int


def shift_at(ms: int, zone: ZoneInfo, starts: list[str]) -> Shift:
    """Return the shift an instant falls in."""
    local = datetime.fromtimestamp(ms / 1000, zone)
    day_starts = []
    for day in (local.date() - timedelta(days=1), local.date(), local.date() + timedelta(days=1)):
        for text in starts:
            hh, mm = (int(x) for x in text.split(":"))
            day_starts.append(datetime.combine(day, time(hh, mm), zone))
    begin = max(s for s in day_starts if s <= local)
    end = min(s for s in day_starts if s > begin)
    label = begin.strftime("%Y-%m-%d %H:%M")
    return Shift(label, int(begin.timestamp() * 1000), int(end.timestamp() * 1000))


def recent_shifts(now: int, zone: ZoneInfo, starts: list[str], count: int = 6) -> list[Shift]:
    """Return the current shift and the ones before it, newest first."""
    out = [shift_at(now, zone, starts)]
    while len(out) < count:
        out.append(shift_at(out[-1].start_ms - 1, zone, starts))
    return out


def unresolved(
    conn: Any,
    dock: str = "",
    shift: Shift | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Return unresolved unread parcels, oldest first, with their images' state."""
    where, params = ["TRUE"], []
    if dock:
        where.append("o.dock = ?")
        params.append(dock)
    if shift is not None:
        where.append("o.ts_ms >= ? AND o.ts_ms < ?")
        params += [shift.start_ms, shift.end_ms]
    rows = conn.execute(
        f"SELECT {QUEUE_COLUMNS} FROM clearing_open o JOIN parcels p ON p.event_id = o.event_id"
        f" WHERE {' AND '.join(where)} ORDER BY o.ts_ms, o.event_id LIMIT ?",
        [*params, int(limit)],
    ).fetchall()
    items = [_item(r) for r in rows]
    stored = images_of(conn, [i["event_id"] for i in items])
    for item in items:
        item["stored"] = stored[item["event_id"]]
    return items


def _item(row: Any) -> dict[str, Any]:
    """Return a queue row with the event's codes and image names read from its payload."""
    event_id, station, dock, ts_ms, received_ms, outcome, weight_kg, payload = row
    try:
        event = json.loads(payload)
    except ValueError:
        event = {}
    return {
        "event_id": event_id, "station": station, "dock": dock, "ts_ms": ts_ms,
        "received_ms": received_ms, "outcome": outcome, "weight_kg": weight_kg,
        "codes": [b.get("text", "") for b in event.get("barcodes", [])],
        "images": list(event.get("images", [])),
    }  # fmt: skip


def image_states(item: dict[str, Any], now: int, missing_after_ms: int) -> list[str]:
    """Return 'stored', 'waiting' or 'missing' for each image the parcel's event lists."""
    stored, late = item["stored"], now - item["received_ms"] > missing_after_ms
    return [
        "stored" if i in stored and stored[i][0] == item["station"] else
        ("missing" if late else "waiting")
        for i in range(len(item["images"]))
    ]  # fmt: skip


def unresolved_by_station(conn: Any) -> dict[str, int]:
    """Return how many unread parcels wait at the clearing desk, per station."""
    rows = conn.execute("SELECT station, count(*) FROM clearing_open GROUP BY station").fetchall()
    return {station: count for station, count in rows}


def median_clear_s(conn: Any, since_ms: int) -> dict[str, float]:
    """Return the median seconds from arrival to first correction, per station, since a time."""
    rows = conn.execute(
        "SELECT p.station, f.first_ms - p.received_ms FROM (SELECT event_id,"
        " min(created_ms) AS first_ms FROM corrections GROUP BY event_id) f"
        " JOIN parcels p ON p.event_id = f.event_id WHERE f.first_ms >= ?"
        " ORDER BY f.first_ms DESC LIMIT ?",
        (since_ms, CLEAR_SAMPLE),
    ).fetchall()
    spans: dict[str, list[float]] = {}
    for station, span_ms in rows:
        spans.setdefault(station, []).append(max(0, span_ms) / 1000)
    return {station: statistics.median(v) for station, v in spans.items()}


def docks(conn: Any) -> list[str]:
    """Return the docks with unread parcels waiting."""
    rows = conn.execute("SELECT DISTINCT dock FROM clearing_open ORDER BY dock").fetchall()
    return [r[0] for r in rows]


def missing_images(conn: Any, since_ms: int, before_ms: int) -> int:
    """Return how many images of unresolved parcels received in [since, before) never came."""
    row = conn.execute(
        "SELECT sum(o.images - (SELECT count(*) FROM evidence e WHERE e.event_id = o.event_id"
        " AND e.station = o.station AND e.idx < o.images)) FROM clearing_open o"
        " WHERE o.images > 0 AND o.ts_ms >= ? AND o.received_ms < ?",
        (since_ms, before_ms),
    ).fetchone()
    return int(row[0] or 0)


def panel(conn: Any, now: int, missing_after_ms: int) -> dict[str, Any]:
    """Return the board's and the metrics' clearing figures."""
    day_ago = now - 86_400_000
    return {
        "unresolved": unresolved_by_station(conn),
        "median_s": median_clear_s(conn, day_ago),
        "missing": missing_images(conn, day_ago, now - missing_after_ms),
    }
