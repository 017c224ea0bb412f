"""Station summaries for the board and the API: state, counts, rates, devices, open faults."""

import functools
import json
import threading
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dockscan.config import SiteConfig
from gateway.web import queries
from gateway.web.daycounts import DayCounts
from gateway.web.formatting import now_ms, utc_iso

STATE_ORDER = {"offline": 0, "stale": 1, "unknown": 2, "online": 3}


def effective_state(row: dict, stale_after_intervals: int, now: int) -> str:
    """Return the stored state, or 'stale' for an online station silent for too many intervals."""
    state = row["state"] or "unknown"
    interval_s = row.get("telemetry_interval_s") or 10.0
    last = row.get("last_seen_ms")
    if (
        state == "online"
        and last is not None
        and now - last > stale_after_intervals * interval_s * 1000
    ):
        return "stale"
    return state


def _iso_to_ms(value: object) -> int | None:
    """Parse an ISO 8601 UTC timestamp into epoch ms, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(parsed.timestamp() * 1000) if parsed.tzinfo else None


@functools.lru_cache(maxsize=1024)
def _devices(raw: str | None) -> tuple[dict[str, Any], ...]:
    """Parse stations.devices JSON into a sorted tuple (shared, read-only); tolerate damage."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        data = {"?": {"kind": "?", "state": "unreadable", "reason": "stations.devices is not JSON"}}
    if not isinstance(data, dict):
        return ()
    return tuple(
        {
            "id": str(dev_id),
            "kind": str(info.get("kind", "")),
            "state": str(info.get("state", "unknown")),
            "reason": str(info.get("reason", "")),
            "since": str(info.get("since", "")),
            "since_ms": _iso_to_ms(info.get("since")),
        }
        for dev_id, info in sorted(data.items())
        if isinstance(info, dict)
    )


def _rate(part: int, whole: int) -> float | None:
    """Return part/whole, or None when nothing was counted."""
    return part / whole if whole else None


def summarise(row: dict, today: dict[str, int], stale_after: int, now: int) -> dict[str, Any]:
    """Turn one station row and its counts for today ({outcome|'*': n}) into what is shown."""
    problems, today_total = today, today.get("*", 0)
    devices = _devices(row.get("devices"))
    return {
        "id": row["id"],
        "site": row.get("site"),
        "dock": row.get("dock") or "",
        "state": effective_state(row, stale_after, now),
        "reported_state": row["state"],
        "state_since": utc_iso(row.get("state_since_ms")),
        "state_since_ms": row.get("state_since_ms"),
        "last_seen": utc_iso(row.get("last_seen_ms")),
        "last_seen_ms": row.get("last_seen_ms"),
        "last_event": utc_iso(row.get("last_event_ms")),
        "last_event_ms": row.get("last_event_ms"),
        "session": row.get("session", 0),
        "version": row.get("version"),
        "outbox_depth": row.get("outbox_depth"),
        "seq_gaps": row.get("seq_gaps", 0),
        "parcels_last_hour": row.get("last_hour") or 0,
        "parcels_today": today_total,
        "no_read_today": problems.get("NO_READ", 0),
        "no_weight_today": problems.get("NO_WEIGHT", 0),
        "invalid_code_today": problems.get("INVALID_CODE", 0),
        "no_read_rate": _rate(problems.get("NO_READ", 0), today_total),
        "no_weight_rate": _rate(problems.get("NO_WEIGHT", 0), today_total),
        "invalid_code_rate": _rate(problems.get("INVALID_CODE", 0), today_total),
        "devices": devices,
        "faults": [d for d in devices if d["state"] not in ("ok", "starting")],
    }


def _unseen(cfg: SiteConfig, seen: set[str]) -> list[dict]:
    """Rows for configured stations the gateway has never heard from."""
    return [
        {"id": st.id, "site": cfg.site.id, "dock": st.dock, "state": "unknown"}
        for st in cfg.stations
        if st.id not in seen
    ]


def load_summaries(
    conn: queries.Conn,
    cfg: SiteConfig,
    days: DayCounts,
    station: str | None = None,
    now: int | None = None,
) -> list[dict[str, Any]]:
    """Return summaries of every station (stored or configured), or of one station."""
    now = now if now is not None else now_ms()
    today = days.snapshot(conn, now)
    rows = [dict(r) for r in queries.stations_with_last_hour(conn, now - 3_600_000, station)]
    extra = _unseen(cfg, {r["id"] for r in rows})
    if station:
        extra = [r for r in extra if r["id"] == station]
    stale_after = cfg.gateway.stale_after_intervals
    return [summarise(r, today.get(r["id"], {}), stale_after, now) for r in rows + extra]


def cfg_zone(cfg: SiteConfig) -> ZoneInfo:
    """Return the site's time zone."""
    return ZoneInfo(cfg.site.timezone)


def sort_and_filter(items: list[dict], dock: str = "", sort: str = "dock") -> list[dict]:
    """Filter summaries to one dock (if given) and sort by dock, station, state or last event."""
    if dock:
        items = [s for s in items if s["dock"] == dock]
    keys = {
        "station": lambda s: s["id"],
        "state": lambda s: (STATE_ORDER.get(s["state"], 9), s["dock"], s["id"]),
        "last_event": lambda s: (-(s["last_event_ms"] or 0), s["id"]),
        "dock": lambda s: (s["dock"], s["id"]),
    }
    return sorted(items, key=keys.get(sort, keys["dock"]))


class BoardCache:
    """Reuse the last board computation while the store has not changed (shared by threads)."""

    def __init__(self, zone: ZoneInfo, max_age_ms: int = 5000) -> None:
        self.max_age_ms = max_age_ms
        self.days = DayCounts(zone)
        self._lock = threading.Lock()
        self._entry: tuple[tuple, int, list[dict]] | None = None

    def get(self, conn: queries.Conn, cfg: SiteConfig) -> list[dict[str, Any]]:
        """Return all station summaries, recomputed when the change marker moves or they age."""
        if self.max_age_ms <= 0:
            return load_summaries(conn, cfg, self.days)
        marker, now = queries.change_marker(conn), now_ms()
        entry = self._entry
        if entry and entry[0] == marker and now - entry[1] < self.max_age_ms:
            return entry[2]
        items = load_summaries(conn, cfg, self.days, now=now)
        with self._lock:
            self._entry = (marker, now, items)
        return items
