"""The SQL of the hub pages (manifests, discrepancies, holds, parcel verdicts), on both stores.

A manifest line counts as seen when any verdict of its tracking id was captured (and, as the
close-out report has it, stored) by the time the manifest closed (still open: at any time); its
shown sighting is the first of those that is not a DUPLICATE. Every statement reads by primary
key or an index range (manifest_id, tracking_id, the discrepant verdicts' ts_ms).
"""

from dataclasses import dataclass
from typing import Any

from gateway.web.queries import Conn, unmatchable

FOREVER = 2**63 - 1
LINE_FILTERS = {
    "all": "All", "seen": "Seen", "missing": "Missing", "over": "Weight over",
    "under": "Weight under", "nodecl": "No declaration", "duplicate": "Duplicate",
}  # fmt: skip
DISCREPANCIES = {
    "weight_over": "v.weight = 'WEIGHT_OVER'", "weight_under": "v.weight = 'WEIGHT_UNDER'",
    "unexpected": "v.match = 'UNEXPECTED'", "duplicate": "v.match = 'DUPLICATE'",
}  # fmt: skip
# The predicate of the partial index verdicts_discrepant, written out so both stores use it.
DISCREPANT = (
    "(v.match IN ('UNEXPECTED', 'DUPLICATE') OR v.weight IN ('WEIGHT_OVER', 'WEIGHT_UNDER'))"
)
LATE = (  # a sighting stored after the cut (only a closed manifest has one)
    "EXISTS (SELECT 1 FROM parcels p WHERE p.event_id = {v}.event_id AND p.committed_ms > {cut})"
)
SEEN = (
    "EXISTS (SELECT 1 FROM verdicts s WHERE s.tracking_id = l.tracking_id"
    " AND s.ts_ms <= coalesce(m.closed_ms, :forever)"
    f" AND NOT {LATE.format(v='s', cut='coalesce(m.closed_ms, :forever)')})"
)
PROGRESS_SQL = f"""
    SELECT m.id, m.kind, m.reference, m.carrier, m.state, m.created_ms, m.updated_ms,
           m.closed_ms, m.closed_by, m.source_name,
           count(l.tracking_id) AS expected,
           coalesce(sum(CASE WHEN {SEEN} THEN 1 ELSE 0 END), 0) AS seen
      FROM manifests m
      LEFT JOIN manifest_lines l ON l.manifest_id = m.id AND l.removed_ms IS NULL
     WHERE {{where}}
     GROUP BY m.id, m.kind, m.reference, m.carrier, m.state, m.created_ms, m.updated_ms,
              m.closed_ms, m.closed_by, m.source_name
     ORDER BY {{order}}
     LIMIT :limit OFFSET :offset
"""
FIRST_SIGHTING = (  # the first sighting that is not a DUPLICATE, as the close-out report has it
    "LEFT JOIN verdicts v ON v.event_id = (SELECT f.event_id FROM verdicts f"
    " WHERE f.tracking_id = l.tracking_id AND f.ts_ms <= :until"
    f" AND NOT {LATE.format(v='f', cut=':until')} ORDER BY"
    " CASE WHEN f.match = 'DUPLICATE' THEN 1 ELSE 0 END, f.ts_ms, f.event_id LIMIT 1)"
)
SIGHTINGS = (
    "(SELECT count(*) FROM verdicts c WHERE c.tracking_id = l.tracking_id AND c.ts_ms <= :until"
    f" AND NOT {LATE.format(v='c', cut=':until')})"
)
LINE_WHERE = {
    "all": "",
    "seen": "AND v.event_id IS NOT NULL",
    "missing": "AND v.event_id IS NULL",
    "over": "AND v.weight = 'WEIGHT_OVER'",
    "under": "AND v.weight = 'WEIGHT_UNDER'",
    "nodecl": "AND v.weight = 'NO_DECLARATION'",
    "duplicate": f"AND {SIGHTINGS} > 1",
}
LINES_SQL = f"""
    SELECT l.line_no, l.tracking_id, l.tracking_raw, l.declared_kg, l.hawb, l.bag,
           l.declared_value, l.currency, l.description,
           v.event_id, v.station, v.ts_ms, v.match, v.weight, v.measured_kg, v.delta_kg,
           v.tolerance_kg, v.hold, {SIGHTINGS} AS sightings
      FROM manifest_lines l {FIRST_SIGHTING}
     WHERE l.manifest_id = :manifest AND l.removed_ms IS NULL {{where}} {{after}}
     ORDER BY l.line_no, l.tracking_id
     LIMIT :limit
"""
TALLY_SQL = f"""
    SELECT count(*) AS all_,
           coalesce(sum(CASE WHEN v.event_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS seen,
           coalesce(sum(CASE WHEN v.weight = 'WEIGHT_OVER' THEN 1 ELSE 0 END), 0) AS over,
           coalesce(sum(CASE WHEN v.weight = 'WEIGHT_UNDER' THEN 1 ELSE 0 END), 0) AS under,
           coalesce(sum(CASE WHEN v.weight = 'NO_DECLARATION' THEN 1 ELSE 0 END), 0) AS nodecl,
           coalesce(sum(CASE WHEN {SIGHTINGS} > 1 THEN 1 ELSE 0 END), 0) AS duplicate
      FROM manifest_lines l {FIRST_SIGHTING}
     WHERE l.manifest_id = :manifest AND l.removed_ms IS NULL
"""
VERDICT_FIELDS = (
    "v.event_id, v.tracking_id, v.station, v.ts_ms, v.match, v.weight, v.manifest_id,"
    " v.declared_kg, v.measured_kg, v.delta_kg, v.tolerance_kg, v.hold, v.first_event_id"
)
HOLD_STATIONS_SQL = """
    SELECT v.station, count(*) AS n FROM verdicts v{hint}
     WHERE v.tracking_id IN (SELECT tracking_id FROM holds
                             UNION SELECT tracking_id FROM hold_history WHERE at_ms >= :day)
       AND v.ts_ms >= :day AND v.hold IS NOT NULL
     GROUP BY v.station
"""


@dataclass(frozen=True)
class LineCursor:
    """The position after the last line shown: (line_no, tracking_id)."""

    line_no: int
    tracking_id: str


def _dicts(rows: Any) -> list[dict[str, Any]]:
    """Return result rows as plain dicts."""
    return [dict(r) for r in rows]


def manifest_progress(
    conn: Conn, state: str | None = None, limit: int = 500, offset: int = 0
) -> list[dict[str, Any]]:
    """Return manifests (of one state, or all) with expected and seen line counts."""
    where, order = "1 = 1", "m.state DESC, m.created_ms DESC, m.id"
    if state == "open":
        where, order = "m.state = 'open'", "m.created_ms DESC, m.id"
    elif state == "closed":
        where, order = "m.state <> 'open'", "m.closed_ms DESC, m.id"
    sql = PROGRESS_SQL.format(where=where, order=order)
    params = {"forever": FOREVER, "limit": limit, "offset": offset}
    return _dicts(conn.execute(sql, params).fetchall())


def manifest_header(conn: Conn, manifest_id: str) -> dict[str, Any] | None:
    """Return one manifest with its progress, its last import and its line count, or None."""
    if unmatchable(conn, manifest_id):
        return None
    sql = PROGRESS_SQL.format(where="m.id = :id", order="m.id")
    row = conn.execute(sql, {"forever": FOREVER, "id": manifest_id, "limit": 1, "offset": 0})
    found = row.fetchone()
    if found is None:
        return None
    out = dict(found)
    extra = conn.execute(
        "SELECT flight, flight_date, mawb, uld, bag, sha256 FROM manifests WHERE id = ?",
        (manifest_id,),
    ).fetchone()
    out.update(dict(extra))
    last = conn.execute(
        "SELECT imported_ms, source_name, format, lines, inserted, updated, unchanged, removed,"
        " rejected FROM manifest_imports WHERE manifest_id = ? ORDER BY imported_ms DESC, id DESC"
        " LIMIT 1",
        (manifest_id,),
    ).fetchone()
    out["last_import"] = dict(last) if last else None
    return out


def until_ms(header: dict[str, Any]) -> int:
    """Return the latest capture time that counts as seen for a manifest."""
    return header["closed_ms"] if header.get("closed_ms") is not None else FOREVER


def manifest_line_page(
    conn: Conn, header: dict[str, Any], flt: str, limit: int, after: LineCursor | None = None
) -> list[dict[str, Any]]:
    """Return up to `limit` of a manifest's lines passing a verdict filter, in file order."""
    params: dict[str, Any] = {"manifest": header["id"], "until": until_ms(header), "limit": limit}
    cursor = ""
    if after is not None:
        if unmatchable(conn, after.tracking_id):
            return []
        cursor = "AND (l.line_no > :c_no OR (l.line_no = :c_no AND l.tracking_id > :c_id))"
        params.update(c_no=after.line_no, c_id=after.tracking_id)
    sql = LINES_SQL.format(where=LINE_WHERE[flt], after=cursor)
    return _dicts(conn.execute(sql, params).fetchall())


def manifest_tally(conn: Conn, header: dict[str, Any]) -> dict[str, int]:
    """Return how many of a manifest's lines each verdict filter shows."""
    row = conn.execute(TALLY_SQL, {"manifest": header["id"], "until": until_ms(header)})
    counts = {k: int(v or 0) for k, v in dict(row.fetchone()).items()}
    counts["all"] = counts.pop("all_")
    counts["missing"] = counts["all"] - counts["seen"]
    return counts


def discrepancies(
    conn: Conn, kind: str = "", station: str = "", limit: int = 50,
    after: tuple[int, str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Return weight-over/under, unexpected and duplicate verdicts, newest first (each once)."""
    if station and unmatchable(conn, station):
        return []
    where = [DISCREPANT]
    if kind:
        where.append(DISCREPANCIES[kind])
    if station:
        where.append("v.station = :station")
    params: dict[str, Any] = {"limit": limit, "station": station}
    if after is not None:
        where.append("v.ts_ms <= :c_ts AND (v.ts_ms < :c_ts OR v.event_id < :c_id)")
        params.update(c_ts=after[0], c_id=after[1])
    sql = (
        f"SELECT {VERDICT_FIELDS} FROM verdicts v WHERE {' AND '.join(where)}"
        " ORDER BY v.ts_ms DESC, v.event_id DESC LIMIT :limit"
    )
    return _dicts(conn.execute(sql, params).fetchall())


def current_holds(conn: Conn, tracking_id: str = "", limit: int = 500) -> list[dict[str, Any]]:
    """Return the newest current holds (only the one of tracking_id when given)."""
    if tracking_id and unmatchable(conn, tracking_id):
        return []
    where = "WHERE tracking_id = :tid" if tracking_id else ""
    sql = (
        f"SELECT tracking_id, reason, note, actor, set_ms, source FROM holds {where}"
        " ORDER BY set_ms DESC, tracking_id LIMIT :limit"
    )
    return _dicts(conn.execute(sql, {"tid": tracking_id, "limit": limit}).fetchall())


def holds_count(conn: Conn) -> int:
    """Return how many tracking ids are held."""
    return int(conn.execute("SELECT count(*) FROM holds").fetchone()[0])


def parcel_verdict(conn: Conn, event_id: str) -> dict[str, Any] | None:
    """Return a parcel's verdict with its tracking id's current hold, or None."""
    row = conn.execute(
        f"SELECT {VERDICT_FIELDS}, v.revision, v.decided_ms, h.reason AS held_now,"
        " h.set_ms AS held_since FROM verdicts v LEFT JOIN holds h ON h.tracking_id = v.tracking_id"
        " WHERE v.event_id = ?",
        (event_id,),
    ).fetchone()
    return dict(row) if row else None


def lines_for(conn: Conn, tracking_id: str) -> list[dict[str, Any]]:
    """Return every manifest line listing a tracking id, with its manifest's kind and state."""
    sql = (
        "SELECT l.manifest_id, m.kind, m.reference, m.state, l.line_no, l.tracking_raw,"
        " l.declared_kg, l.hawb, l.bag, l.declared_value, l.currency, l.country, l.description,"
        " l.removed_ms FROM manifest_lines l JOIN manifests m ON m.id = l.manifest_id"
        " WHERE l.tracking_id = ? ORDER BY m.created_ms DESC, l.manifest_id"
    )
    return _dicts(conn.execute(sql, (tracking_id,)).fetchall())


def holds_seen_by_station(conn: Conn, day_ms: int) -> dict[str, int]:
    """Return {station: verdicts since day_ms of parcels that were held} (via the held ids)."""
    hint = " INDEXED BY verdicts_tracking" if conn.dialect == "sqlite" else ""
    sql = HOLD_STATIONS_SQL.format(hint=hint)
    return {st: int(n) for st, n in conn.execute(sql, {"day": day_ms}).fetchall()}


def parcel_hub(conn: Conn, event_id: str) -> dict[str, Any]:
    """Return a parcel's verdict and every manifest line listing its tracking id."""
    verdict = parcel_verdict(conn, event_id)
    lines = lines_for(conn, verdict["tracking_id"]) if verdict else []
    return {"verdict": verdict, "lines": lines}
