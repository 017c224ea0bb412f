"""Every SQL statement the web UI runs.

Each one reads an index range bounded by station, code, outcome, time or rowid; only the row
counts for /metrics walk a whole index (and metrics.py reuses them for 10 s).
"""

import sqlite3
from dataclasses import dataclass

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


def stations_with_last_hour(
    conn: sqlite3.Connection, hour_ms: int, station: str | None = None
) -> list[sqlite3.Row]:
    """Return station rows with their parcel count since hour_ms (index-only counts)."""
    where = "WHERE s.id = :station" if station else ""
    sql = f"""
        SELECT {STATION_COLUMNS},
          (SELECT count(*) FROM parcels p WHERE p.station = s.id AND p.ts_ms >= :hour) AS last_hour
        FROM stations s {where} ORDER BY s.id"""
    return conn.execute(sql, {"hour": hour_ms, "station": station}).fetchall()


def counts_since(conn: sqlite3.Connection, since_ms: int) -> list[tuple[str, int]]:
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


def max_parcel_rowid(conn: sqlite3.Connection) -> int:
    """Return the highest parcel rowid (0 for an empty table)."""
    return conn.execute("SELECT coalesce(max(rowid), 0) FROM parcels").fetchone()[0]


def parcels_after_rowid(conn: sqlite3.Connection, rowid: int, limit: int) -> list:
    """Return (rowid, station, outcome, ts_ms) of parcels stored after `rowid`, in order."""
    sql = (
        "SELECT rowid, station, outcome, ts_ms FROM parcels WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    return conn.execute(sql, (rowid, limit)).fetchall()


def problem_counts(conn: sqlite3.Connection, day_ms: int) -> dict[str, dict[str, int]]:
    """Return {station: {outcome: count}} of no-read/no-weight/invalid-code parcels since day_ms."""
    marks = ",".join("?" * len(PROBLEM_OUTCOMES))
    sql = (  # walk only the problem outcomes' (outcome, ts_ms) ranges
        "SELECT station, outcome, count(*) FROM parcels INDEXED BY parcels_outcome_ts"
        f" WHERE outcome IN ({marks}) AND ts_ms >= ? GROUP BY station, outcome"
    )
    out: dict[str, dict[str, int]] = {}
    for st, outcome, n in conn.execute(sql, [*PROBLEM_OUTCOMES, day_ms]):
        out.setdefault(st, {})[outcome] = n
    return out


def station_ids(conn: sqlite3.Connection) -> list[str]:
    """Return the ids of every station the store knows."""
    return [r[0] for r in conn.execute("SELECT id FROM stations ORDER BY id")]


def change_marker(conn: sqlite3.Connection) -> tuple:
    """Return a cheap value that changes whenever a parcel is stored or a station row changes."""
    last_rowid = conn.execute("SELECT max(rowid) FROM parcels").fetchone()[0]
    rows = conn.execute(
        "SELECT id, state, session, state_since_ms, last_seen_ms, last_event_ms, outbox_depth,"
        " devices FROM stations ORDER BY id"
    ).fetchall()
    return (last_rowid, hash(tuple(tuple(r) for r in rows)))


def hourly_counts(conn: sqlite3.Connection, station: str, start_ms: int, hours: int) -> list[int]:
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


def recent_parcels(conn: sqlite3.Connection, station: str, limit: int = 50) -> list[sqlite3.Row]:
    """Return a station's latest parcels, newest first."""
    sql = (
        f"SELECT {PARCEL_COLUMNS} FROM parcels p WHERE p.station = ? ORDER BY p.ts_ms DESC LIMIT ?"
    )
    return conn.execute(sql, (station, limit)).fetchall()


def station_faults(conn: sqlite3.Connection, station: str, limit: int = 50) -> list[sqlite3.Row]:
    """Return a station's state and device intervals (open ones have end_ms NULL), newest first."""
    sql = (
        "SELECT id, kind, device, state, reason, start_ms, end_ms FROM station_events"
        " WHERE station = ? ORDER BY start_ms DESC LIMIT ?"
    )
    return conn.execute(sql, (station, limit)).fetchall()


def dead_letters(conn: sqlite3.Connection, station: str, limit: int = 20) -> list[sqlite3.Row]:
    """Return a station's latest dead letters with the first bytes of each payload."""
    sql = (
        "SELECT id, received_ms, coalesce(last_ms, received_ms) AS last_ms, repeats, topic,"
        " payload_bytes, reason, substr(payload, 1, 512) AS head"
        " FROM dead_letters WHERE station = ? ORDER BY last_ms DESC LIMIT ?"
    )
    return conn.execute(sql, (station, limit)).fetchall()


def _prefix_end(prefix: str) -> str:
    """Return the smallest string greater than every string starting with prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def search_parcels(conn: sqlite3.Connection, flt: ParcelFilter, limit: int) -> list[sqlite3.Row]:
    """Return parcels matching the filter, newest first, at most `limit`."""
    where: list[str] = []
    params: dict = {"limit": limit}
    source = "parcels p"
    if flt.barcode:
        source = "parcel_codes c CROSS JOIN parcels p"
        where.append("p.event_id = c.event_id")
        if flt.prefix:
            where.append("c.text >= :lo AND c.text < :hi")
            params.update(lo=flt.barcode, hi=_prefix_end(flt.barcode))
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


def parcel(conn: sqlite3.Connection, event_id: str) -> sqlite3.Row | None:
    """Return one stored parcel with its payload, or None."""
    sql = f"SELECT {PARCEL_COLUMNS}, p.payload FROM parcels p WHERE p.event_id = ?"
    return conn.execute(sql, (event_id,)).fetchone()


def parcel_codes(conn: sqlite3.Connection, event_id: str) -> list[sqlite3.Row]:
    """Return every code stored for a parcel."""
    sql = "SELECT text, symbology, kind, check_ok FROM parcel_codes WHERE event_id = ?"
    return conn.execute(sql, (event_id,)).fetchall()


def counters(conn: sqlite3.Connection) -> dict[str, float]:
    """Return the ingest counters as {name: value}."""
    return dict(conn.execute("SELECT name, value FROM counters").fetchall())


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Return row counts of the store's tables (counts read the smallest index)."""
    names = ("parcels", "parcel_codes", "stations", "station_events", "dead_letters")
    return {n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def database_bytes(conn: sqlite3.Connection) -> int:
    """Return the size of the main database file in bytes as SQLite sees it."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    return pages * conn.execute("PRAGMA page_size").fetchone()[0]
