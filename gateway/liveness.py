"""Station liveness: online/offline/stale from status and telemetry, device states, seq gaps.

Every function runs inside the caller's write transaction on the store connection.
"""

import logging
from dataclasses import dataclass, field

import orjson

from dockscan.events import DeviceState, StationStatus, Telemetry
from gateway.clock import epoch_ms
from gateway.db import Connection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Defaults:
    """Liveness settings: stale threshold, and telemetry intervals from the site config."""

    stale_after_intervals: int = 3
    telemetry_interval_s: float = 10.0
    station_intervals: dict[str, float] = field(default_factory=dict)
    watching_since_ms: int = 0  # when this gateway started listening: no stale verdicts before


def _station(conn: Connection, site: str, station: str, dock: str | None) -> tuple:
    """Return (state, session) of a station, creating its row on first sight."""
    # PostgreSQL: lock the row, so two gateways applying signals of one station take turns
    # (SQLite's write transaction already holds the whole file).
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    sql = f"SELECT state, session FROM stations WHERE id = ?{lock}"
    row = conn.execute(sql, (station,)).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO stations (id, site, dock) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (station, site, dock),
        )
        return tuple(conn.execute(sql, (station,)).fetchone())
    return row


def transition(conn: Connection, station: str, state: str, reason: str, at: int) -> bool:
    """Move a station to `state`, closing the open state interval; return whether it changed."""
    (current,) = conn.execute("SELECT state FROM stations WHERE id = ?", (station,)).fetchone()
    if current == state:
        return False
    conn.execute(
        "UPDATE station_events SET end_ms = ? WHERE station = ? AND kind = 'state'"
        " AND end_ms IS NULL",
        (at, station),
    )
    conn.execute(
        "INSERT INTO station_events (station, kind, state, reason, start_ms) "
        "VALUES (?, 'state', ?, ?, ?)",
        (station, state, reason, at),
    )
    conn.execute(
        "UPDATE stations SET state = ?, state_since_ms = ? WHERE id = ?", (state, at, station)
    )
    logger.info("station %s: %s -> %s %s", station, current, state, reason)
    return True


def _devices(conn: Connection, station: str, devices: dict[str, DeviceState], at: int) -> None:
    """Record device state changes as intervals and store the latest device map."""
    for device, ds in devices.items():
        open_row = conn.execute(
            "SELECT id, state, reason, start_ms FROM station_events WHERE station = ?"
            " AND kind = 'device' AND device = ? AND end_ms IS NULL",
            (station, device),
        ).fetchone()
        if open_row and (open_row[1], open_row[2]) == (ds.state.value, ds.reason):
            continue
        start = min(epoch_ms(ds.since), at)
        if open_row:
            start = max(start, open_row[3])
            conn.execute("UPDATE station_events SET end_ms = ? WHERE id = ?", (start, open_row[0]))
        conn.execute(
            "INSERT INTO station_events (station, kind, device, state, reason, start_ms)"
            " VALUES (?, 'device', ?, ?, ?, ?)",
            (station, device, ds.state.value, ds.reason, start),
        )
    doc = {k: v.model_dump(mode="json") for k, v in devices.items()}
    sql = "UPDATE stations SET devices = ? WHERE id = ?"
    conn.execute(sql, (orjson.dumps(doc).decode(), station))


def _close_devices(conn: Connection, station: str, at: int) -> None:
    """End every open device interval (the station went offline: states are unknown now)."""
    conn.execute(
        "UPDATE station_events SET end_ms = greatest(start_ms, ?) WHERE station = ?"
        " AND kind = 'device' AND end_ms IS NULL",
        (at, station),
    )


def apply_status(conn: Connection, status: StationStatus, at: int) -> bool:
    """Apply a retained status; an older session, or online after offline in one, is ignored."""
    state, session = _station(conn, status.site, status.station, status.dock)
    if status.session < session or (
        status.session == session and state == "offline" and status.state == "online"
    ):
        logger.info(
            "station %s: ignoring %s of session %d (current: %s, session %d)",
            status.station, status.state, status.session, state, session,
        )  # fmt: skip
        return False
    conn.execute(
        "UPDATE stations SET session = ?, version = ?, dock = coalesce(?, dock),"
        " last_seen_ms = greatest(coalesce(last_seen_ms, 0), ?) WHERE id = ?",
        (status.session, status.version, status.dock, at, status.station),
    )
    reason = status.reason or ("will" if status.state == "offline" else "")
    transition(conn, status.station, status.state, reason, at)
    if status.state == "offline":
        _close_devices(conn, status.station, at)
    else:
        _devices(conn, status.station, status.devices, at)
    return True


def apply_telemetry(conn: Connection, tel: Telemetry, at: int) -> bool:
    """Apply telemetry: health fields, devices, and online again if it was stale."""
    state, session = _station(conn, tel.site, tel.station, None)
    if tel.session < session:
        return False
    conn.execute(
        "UPDATE stations SET last_telemetry_ms = ?, telemetry_interval_s = ?, outbox_depth = ?,"
        " oldest_pending_age_s = ?, counters = ?, session = ?,"
        " last_seen_ms = greatest(coalesce(last_seen_ms, 0), ?) WHERE id = ?",
        (at, tel.interval_s, tel.outbox_depth, tel.oldest_pending_age_s,
         orjson.dumps(tel.counters).decode(), tel.session, at, tel.station),
    )  # fmt: skip
    if state in ("stale", "unknown") or (state == "offline" and tel.session > session):
        transition(conn, tel.station, "online", "telemetry", at)
    if state != "offline" or tel.session > session:
        _devices(conn, tel.station, tel.devices, at)
    return True


def apply(conn: Connection, signal: StationStatus | Telemetry, at: int) -> bool:
    """Apply a status or telemetry message."""
    if isinstance(signal, StationStatus):
        return apply_status(conn, signal, at)
    return apply_telemetry(conn, signal, at)


def check_stale(conn: Connection, at: int, defaults: Defaults) -> list[str]:
    """Mark online stations stale after N telemetry intervals of silence; return their ids."""
    stale = []
    rows = conn.execute(
        "SELECT id, last_telemetry_ms, telemetry_interval_s, state_since_ms FROM stations"
        " WHERE state = 'online' ORDER BY id"
    ).fetchall()
    for station, last_tel, interval, since in rows:
        interval = interval or defaults.station_intervals.get(
            station, defaults.telemetry_interval_s
        )
        quiet_ms = at - max(last_tel or 0, since or 0, defaults.watching_since_ms)
        if quiet_ms > defaults.stale_after_intervals * interval * 1000:
            reason = f"no telemetry for {quiet_ms / 1000:.1f} s"
            transition(conn, station, "stale", reason, at)
            stale.append(station)
    return stale


def check_seq_gaps(conn: Connection, at: int, grace_ms: int) -> int:
    """Record holes in each station's seq that stayed open for grace_ms; return seqs missing.

    Holes are checked once, up to the highest seq received at least grace_ms ago (the
    checkpoint `stations.seq_checked`); a seq that arrives later closes nothing.
    """
    total = 0
    stations = conn.execute("SELECT id, seq_checked FROM stations ORDER BY id").fetchall()
    for station, checked in stations:
        if checked is None:
            first = conn.execute(
                "SELECT min(seq) FROM parcels WHERE station = ?", (station,)
            ).fetchone()[0]
            if first is None:
                continue
            checked = first - 1
        (upto,) = conn.execute(
            "SELECT max(seq) FROM parcels WHERE station = ? AND seq > ? AND received_ms <= ?",
            (station, checked, at - grace_ms),
        ).fetchone()
        if upto is None:
            continue
        holes = conn.execute(
            "SELECT prev, seq, prev_ts, ts_ms FROM (SELECT seq, ts_ms,"
            " lag(seq, 1, ?) OVER w AS prev, lag(ts_ms, 1, ts_ms) OVER w AS prev_ts"
            " FROM parcels WHERE station = ? AND seq > ? AND seq <= ?"
            " WINDOW w AS (ORDER BY seq)) AS g"
            " WHERE seq > prev + 1",
            (checked, station, checked, upto),
        ).fetchall()
        missing = 0
        for prev, seq, prev_ts, ts in holes:
            n = seq - prev - 1
            missing += n
            span = f"seq {prev + 1}" if n == 1 else f"seq {prev + 1}..{seq - 1}"
            conn.execute(
                "INSERT INTO station_events (station, kind, state, reason, start_ms, end_ms)"
                " VALUES (?, 'seq_gap', 'missing', ?, ?, ?)",
                (station, f"{span} missing ({n})", min(prev_ts, ts), ts),
            )
            logger.warning("station %s: %s missing (%d)", station, span, n)
        conn.execute(
            "UPDATE stations SET seq_checked = ?, seq_gaps = seq_gaps + ? WHERE id = ?",
            (upto, missing, station),
        )
        total += missing
    return total
