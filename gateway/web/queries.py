"""Every SQL statement the web UI runs, on SQLite or PostgreSQL.

Each one reads an index range bounded by station, code, outcome, time or rowid; only the row
counts for /metrics walk a whole index (and metrics.py reuses them for 10 s).
"""

from dataclasses import dataclass
from typing import Any

Conn = Any  # a gateway.db connection: SQLite (sqlite3.Row rows) or PostgreSQL (same access)
# Counters every gateway keeps in its own rows: totals add up, these take the freshest/best.
MAX_COUNTERS = ("heartbeat_ms", "broker_connected")

PROBLEM_OUTCOMES = ("NO_READ", "NO_WEIGHT", "INVALID_CODE")
PARCEL_COLUMNS = (
    "p.event_id, p.site, p.station, p.dock, p.seq, p.ts_ms, p.received_ms, p.committed_ms,"
    " p.outcome, p.barcode, p.weight_kg, p.flags"
)
STATION_COLUMNS = (
    "s.id, s.site, s.dock, s.state, s.session, s.state_since_ms, s.last_seen_ms, s.last_event_ms,"
    " s.last_telemetry_ms, s.telemetry_interval_s, s.outbox_depth, s.oldest_pending_age_s,"
    " s.version, s.devices, s.counters, s.last_seq, s.seq_gaps"
)


@dataclass(frozen=True)
class ParcelFilter:
    """A parcel search: every field optional; barcode is exact unless prefix is set."""

    barcode: str = ""
    prefix: bool = False
    station: str = ""
    outcome: str = ""
    since_ms: int | None = None
    until_ms: int | None = None
    after: tuple[int, str] | None = None  # cursor: (ts_ms, event_id) of the last row seen


def unmatchable(conn: Conn, text: str) -> bool:
    """Return whether no stored text can match `text` (PostgreSQL text holds no NUL)."""
    return conn.dialect == "postgresql" and "\x00" in text


def stations_with_last_hour(conn: Conn, hour_ms: int, station: str | None = None) -> list:
    """Return station rows with their parcel count since hour_ms (index-only counts)."""
    if station and unmatchable(conn, station):
        return []
    where = "WHERE s.id = :station" if station else ""
    sql = f"""
        SELECT {STATION_COLUMNS},
          (SELECT count(*) FROM parcels p WHERE p.station = s.id AND p.ts_ms >= :hour) AS last_hour
        FROM stations s {where} ORDER BY s.id"""
    return conn.execute(sql, {"hour": hour_ms, "station": station}).fetchall()


def counts_since(conn: Conn, since_ms: int) -> list[tuple[str, int]]:
    """Return (station, parcels since since_ms) for every station with parcels (index-only).

    The stations are found by jumping through an index on station one station at a time,
    so a station missing from the stations table is still counted.
    """
    sql = """
        WITH RECURSIVE st(id) AS (
          SELECT min(station) FROM parcels
          UNION ALL
          SELECT (SELECT min(station) FROM parcels WHERE station > st.id) FROM st
          WHERE st.id IS NOT NULL)
        SELECT id, (SELECT count(*) FROM parcels p WHERE p.station = st.id AND p.ts_ms >= ?) AS n
        FROM st WHERE id IS NOT NULL"""
    return [(station, n) for station, n in conn.execute(sql, (since_ms,)) if n]


def max_parcel_rowid(conn: Conn) -> int:
    """Return the highest parcel rowid (0 for an empty table)."""
    return conn.execute("SELECT coalesce(max(rowid), 0) FROM parcels").fetchone()[0]


def parcels_after_rowid(conn: Conn, rowid: int, limit: int) -> list:
    """Return (rowid, station, outcome, ts_ms) of parcels stored after `rowid`, in order."""
    sql = (
        "SELECT rowid, station, outcome, ts_ms FROM parcels WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    return conn.execute(sql, (rowid, limit)).fetchall()


def problem_counts(conn: Conn, day_ms: int) -> dict[str, dict[str, int]]:
    """Return {station: {outcome: count}} of no-read/no-weight/invalid-code parcels since day_ms."""
    marks = ",".join("?" * len(PROBLEM_OUTCOMES))
    # SQLite: walk only the problem outcomes' (outcome, ts_ms) ranges (its planner needs
    # telling); PostgreSQL's planner picks that index by itself.
    hint = " INDEXED BY parcels_outcome_ts" if conn.dialect == "sqlite" else ""
    sql = (
        f"SELECT station, outcome, count(*) FROM parcels{hint}"
        f" WHERE outcome IN ({marks}) AND ts_ms >= ? GROUP BY station, outcome"
    )
    out: dict[str, dict[str, int]] = {}
    for st, outcome, n in conn.execute(sql, [*PROBLEM_OUTCOMES, day_ms]):
        out.setdefault(st, {})[outcome] = n
    return out


def station_ids(conn: Conn) -> list[str]:
    """Return the ids of every station the store knows."""
    return [r[0] for r in conn.execute("SELECT id FROM stations ORDER BY id")]


def change_marker(conn: Conn) -> tuple:
    """Return a cheap value that changes whenever a parcel is stored or a station row changes."""
    # The count of stored parcels, summed over the gateways, goes up in the same transaction
    # as the rows. Rows written by other means (an import, a restore) do not move it: SQLite
    # adds its highest rowid, which sees them all; PostgreSQL, whose rows commit out of any
    # sequence's order, adds the newest capture time (an index-only look at parcels_ts), which
    # sees every current parcel though not a late replay of an old one.
    (stored,) = conn.execute(
        "SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'events_ingested_total'"
    ).fetchone()
    if conn.dialect == "sqlite":
        newest = max_parcel_rowid(conn)
    else:
        newest = conn.execute("SELECT coalesce(max(ts_ms), 0) FROM parcels").fetchone()[0]
    rows = conn.execute(
        "SELECT id, state, session, state_since_ms, last_seen_ms, last_event_ms, outbox_depth,"
        " devices FROM stations ORDER BY id"
    ).fetchall()
    return (int(stored), newest, hash(tuple(tuple(r) for r in rows)))


def hourly_counts(conn: Conn, station: str, start_ms: int, hours: int) -> list[int]:
    """Return parcel counts per hour for `hours` hours from start_ms (index-only)."""
    counts = [0] * hours
    sql = (
        "SELECT (ts_ms - :start) / 3600000 AS h, count(*) FROM parcels"
        " WHERE station = :station AND ts_ms >= :start AND ts_ms < :end GROUP BY h"
    )
    end = start_ms + hours * 3_600_000
    for h, n in conn.execute(sql, {"start": start_ms, "end": end, "station": station}):
        counts[int(h)] = n
    return counts


def recent_parcels(conn: Conn, station: str, limit: int = 50) -> list:
    """Return a station's latest parcels, newest first."""
    sql = (
        f"SELECT {PARCEL_COLUMNS} FROM parcels p WHERE p.station = ? ORDER BY p.ts_ms DESC LIMIT ?"
    )
    return conn.execute(sql, (station, limit)).fetchall()


def station_faults(conn: Conn, station: str, limit: int = 50) -> list:
    """Return a station's state and device intervals (open ones have end_ms NULL), newest first."""
    sql = (
        "SELECT id, kind, device, state, reason, start_ms, end_ms FROM station_events"
        " WHERE station = ? ORDER BY start_ms DESC LIMIT ?"
    )
    return conn.execute(sql, (station, limit)).fetchall()


def dead_letters(conn: Conn, station: str, limit: int = 20) -> list:
    """Return a station's latest dead letters with the first bytes of each payload."""
    sql = (
        "SELECT id, received_ms, coalesce(last_ms, received_ms) AS last_ms, repeats, topic,"
        " payload_bytes, reason, substr(payload, 1, 512) AS head"
        " FROM dead_letters WHERE station = ? ORDER BY last_ms DESC LIMIT ?"
    )
    return conn.execute(sql, (station, limit)).fetchall()


def _prefix_end(prefix: str) -> str | None:
    """Return the least string above every string starting with prefix (None: there is none)."""
    # Code point order, which byte-wise UTF-8 (COLLATE "C") agrees with; the next code point
    # skips the surrogates, which no stored text holds and no parameter can carry.
    while prefix:
        following = ord(prefix[-1]) + 1
        if 0xD800 <= following <= 0xDFFF:
            following = 0xE000
        if following <= 0x10FFFF:
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


def search_parcels(conn: Conn, flt: ParcelFilter, limit: int) -> list:
    """Return parcels matching the filter, newest first, at most `limit`."""
    if unmatchable(conn, flt.barcode):
        return []
    where: list[str] = []
    params: dict = {"limit": limit}
    source = "parcels p"
    if flt.barcode:
        source = "parcel_codes c CROSS JOIN parcels p"
        where.append("p.event_id = c.event_id")
        if flt.prefix:
            where.append("c.text >= :lo")
            params["lo"] = flt.barcode
            if (end := _prefix_end(flt.barcode)) is not None:
                where.append("c.text < :hi")
                params["hi"] = end
        else:
            where.append("c.text = :code")
            params["code"] = flt.barcode
    if flt.station:
        where.append("p.station = :station")
        params["station"] = flt.station
    if flt.outcome:
        where.append("p.outcome = :outcome")
        params["outcome"] = flt.outcome
    if flt.since_ms is not None:
        where.append("p.ts_ms >= :since")
        params["since"] = flt.since_ms
    if flt.until_ms is not None:
        where.append("p.ts_ms < :until")
        params["until"] = flt.until_ms
    if flt.after is not None:
        where.append("(p.ts_ms < :c_ts OR (p.ts_ms = :c_ts AND p.event_id < :c_id))")
        params.update(c_ts=flt.after[0], c_id=flt.after[1])
    distinct = "DISTINCT " if flt.barcode else ""  # a parcel may have several matching codes
    sql = f"SELECT {distinct}{PARCEL_COLUMNS} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY p.ts_ms DESC, p.event_id DESC LIMIT :limit"
    return conn.execute(sql, params).fetchall()


def parcel(conn: Conn, event_id: str) -> Any:
    """Return one stored parcel with its payload, or None."""
    sql = f"SELECT {PARCEL_COLUMNS}, p.payload FROM parcels p WHERE p.event_id = ?"
    return conn.execute(sql, (event_id,)).fetchone()


def parcel_codes(conn: Conn, event_id: str) -> list:
    """Return every code stored for a parcel."""
    sql = "SELECT text, symbology, kind, check_ok FROM parcel_codes WHERE event_id = ?"
    return conn.execute(sql, (event_id,)).fetchall()


def counters(conn: Conn) -> dict[str, float]:
    """Return the ingest counters as {name: value}: totals over every gateway, else the max."""
    out: dict[str, float] = {}
    for name, total, top in conn.execute(
        "SELECT name, sum(value), max(value) FROM counters GROUP BY name"
    ):
        out[name] = top if name in MAX_COUNTERS else total
    return out


def gateway_counters(conn: Conn, names: tuple[str, ...] = MAX_COUNTERS) -> dict[str, dict]:
    """Return {gateway: {name: value}} for the named per-gateway counters."""
    out: dict[str, dict] = {}
    marks = ",".join("?" * len(names))
    sql = f"SELECT gateway, name, value FROM counters WHERE name IN ({marks}) ORDER BY gateway"
    for gateway, name, value in conn.execute(sql, names):
        out.setdefault(gateway, {})[name] = value
    return out


def table_counts(conn: Conn) -> dict[str, int]:
    """Return row counts of the store's tables (counts read the smallest index)."""
    names = ("parcels", "parcel_codes", "stations", "station_events", "dead_letters",
             "evidence", "corrections")  # fmt: skip
    return {n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def database_bytes(conn: Conn) -> int:
    """Return the size of the database in bytes as SQLite or PostgreSQL sees it."""
    if conn.dialect == "postgresql":
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    return pages * conn.execute("PRAGMA page_size").fetchone()[0]
