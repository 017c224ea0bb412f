"""Manifest close-out: what a unit brought against what it listed, and closing it for good.

A line is expected while no later file removed it, seen when any parcel with its tracking id
has a verdict, missing otherwise. A closed manifest's report counts only the parcels captured
and stored by the time it closed, so it stays what the close-out said when late parcels arrive.
A missing line's "last seen" is the latest sighting of its bag (another line of the manifest
with the same bag), else of its ULD or bag: the manifest's own unit, or a ULD or bag manifest
that lists it. Unexpected parcels are the UNEXPECTED verdicts captured while it was open.
Each part is one set-based query; the SQL runs on SQLite and PostgreSQL alike.

Public: report(), close(), progress(), and from closeout_output report_csv(), report_json(),
closeout_event().
"""

from collections.abc import Iterable
from typing import Any

from dockscan.config import SiteConfig
from gateway.clock import from_ms, now_ms
from gateway.manifests.closeout_model import (
    AlreadyClosed,
    CloseoutError,
    LastSeen,
    LineStatus,
    Report,
    Sighting,
    UnknownManifest,
)
from gateway.manifests.closeout_output import closeout_event, report_csv, report_json
from gateway.reconcile.lookups import any_of, chunks
from gateway.store import transaction

__all__ = [
    "AlreadyClosed", "CloseoutError", "Report", "UnknownManifest", "close", "closeout_event",
    "progress", "report", "report_csv", "report_json",
]  # fmt: skip
FOREVER_MS = 1 << 62  # the sightings cut of an open manifest: none
ACTOR_MAX = 64  # Closeout.closed_by
HEAD_SQL = (
    "SELECT id, kind, reference, state, created_ms, closed_ms, closed_by, uld, bag"
    " FROM manifests WHERE id = ?"
)
VERDICT = (  # Sighting's fields
    "v.tracking_id, v.event_id, v.station, v.ts_ms, v.match, v.weight, v.declared_kg,"
    " v.measured_kg, v.delta_kg, v.hold, v.first_event_id"
)
# A closed manifest's report joins the parcels to leave out those stored after it closed.
STORED = "LEFT JOIN parcels p ON p.event_id = v.event_id"
LINES_SQL = """
    SELECT l.tracking_id, l.line_no, l.hawb, l.bag, l.declared_kg, l.description, {committed},
           {verdict}
      FROM manifest_lines l
      LEFT JOIN verdicts v ON v.tracking_id = l.tracking_id AND v.ts_ms <= ?
      {stored}
     WHERE l.manifest_id = ? AND l.removed_ms IS NULL
"""
# The first condition is the partial index verdicts_discrepant's own, word for word, so SQLite
# reads the time range from that index instead of scanning every verdict.
UNEXPECTED_SQL = """
    SELECT {committed}, {verdict}
      FROM verdicts v {stored}
     WHERE (v.match IN ('UNEXPECTED', 'DUPLICATE') OR v.weight IN ('WEIGHT_OVER', 'WEIGHT_UNDER'))
       AND v.match = 'UNEXPECTED' AND v.ts_ms >= ? AND v.ts_ms <= ?
     ORDER BY v.ts_ms, v.event_id
"""
# The ULD and bag manifests (other than this one) that list some of these ids.
UNITS_SQL = """
    SELECT l.tracking_id, m.id, m.kind, m.reference
      FROM manifest_lines l JOIN manifests m ON m.id = l.manifest_id
     WHERE {where} AND l.manifest_id <> ? AND l.removed_ms IS NULL AND m.kind IN ('uld', 'bag')
"""
UNIT_SIGHTINGS_SQL = """
    SELECT l.manifest_id, {committed}, v.station, v.ts_ms
      FROM manifest_lines l
      JOIN verdicts v ON v.tracking_id = l.tracking_id AND v.ts_ms <= ?
      {stored}
     WHERE {where} AND l.removed_ms IS NULL
"""
# Seen / expected per manifest: an index probe per line (verdicts_tracking), grouped once.
PROGRESS_SQL = """
    SELECT m.id, count(l.tracking_id),
           coalesce(sum(CASE WHEN EXISTS (
               SELECT 1 FROM verdicts v
                WHERE v.tracking_id = l.tracking_id AND v.ts_ms <= coalesce(m.closed_ms, ?)
           ) THEN 1 ELSE 0 END), 0)
      FROM manifests m
      LEFT JOIN manifest_lines l ON l.manifest_id = m.id AND l.removed_ms IS NULL
     WHERE {where}
     GROUP BY m.id
"""
CLOSE_SQL = (
    "UPDATE manifests SET state = 'closed', closed_ms = ?, closed_by = ?, updated_ms = ?"
    " WHERE id = ? AND state = 'open'"
)
OUTBOUND_SQL = "INSERT INTO outbound (kind, station, payload, created_ms) VALUES (?, '', ?, ?)"


class _Cut:
    """Which sightings count: captured by `ts_ms`, and (when `stored`) stored by then too."""

    def __init__(self, ts_ms: int, stored: bool) -> None:
        self.ts_ms, self.stored = ts_ms, stored

    def sql(self, template: str, **kw: str) -> str:
        """Fill a template's committed/stored/verdict slots for this cut."""
        committed, stored = ("p.committed_ms", STORED) if self.stored else ("NULL", "")
        return template.format(committed=committed, stored=stored, verdict=VERDICT, **kw)

    def counts(self, committed_ms: int | None) -> bool:
        """Return whether a sighting stored at committed_ms counts."""
        return not self.stored or committed_ms is None or committed_ms <= self.ts_ms


def _head(conn: Any, manifest_id: str) -> Any:
    """Return the manifest's row or raise UnknownManifest."""
    row = conn.execute(HEAD_SQL, (manifest_id,)).fetchone()
    if row is None:
        raise UnknownManifest(f"no manifest {manifest_id!r}")
    return row


def report(conn: Any, manifest_id: str, now: int | None = None) -> Report:
    """Return a manifest's report: as it was at its close, or its progress up to `now`."""
    head = _head(conn, manifest_id)
    return _report(conn, head, now_ms() if now is None else now, stored=True)


def _report(conn: Any, head: Any, now: int, stored: bool) -> Report:
    """Build the report of a manifest row (`stored`: leave out parcels stored after its close)."""
    mid, kind, reference, state, created, closed, closed_by, uld, bag = head
    cut = _Cut(FOREVER_MS, False) if closed is None else _Cut(closed, stored)
    as_of = now if closed is None else closed
    lines, duplicates, holds, latest = _lines(conn, mid, cut)
    unit = f"uld {uld}" if uld else f"bag {bag}" if bag else None
    own = (latest, unit) if unit and latest else None  # the manifest is itself one ULD or bag
    _units_last_seen(conn, mid, [li for li in lines if li.first is None and li.last_seen is None],
                     cut, own)  # fmt: skip
    sql = cut.sql(UNEXPECTED_SQL)
    unexpected = [
        Sighting._make(row[1:])
        for row in conn.execute(sql, (created, as_of)).fetchall()
        if cut.counts(row[0])
    ]
    return Report(mid, kind, reference, state, created, closed, closed_by, as_of, lines,
                  unexpected, duplicates, holds)  # fmt: skip


def _lines(
    conn: Any, manifest_id: str, cut: _Cut
) -> tuple[list[LineStatus], list[Sighting], list[Sighting], tuple[int, str] | None]:
    """Read the lines with their sightings in one join.

    Return the lines, duplicates, holds and the latest (ts, station) any line was seen.
    """
    by_id: dict[str, LineStatus] = {}
    bag_seen: dict[str, tuple[int, str]] = {}
    duplicates, holds = [], []
    unbagged: tuple[int, str] | None = None
    for row in conn.execute(cut.sql(LINES_SQL), (cut.ts_ms, manifest_id)).fetchall():
        tid = row[0]
        line = by_id.get(tid)
        if line is None:
            line = by_id[tid] = LineStatus(tid, *row[1:6])
        if row[7] is None or not cut.counts(row[6]):
            continue  # no sighting (or one stored after the close)
        seen = Sighting._make(row[7:])
        line.sightings += 1
        if line.first is None or _order(seen) < _order(line.first):
            line.first = seen
        if seen.match == "DUPLICATE":
            duplicates.append(seen)
        if seen.hold is not None:
            holds.append(seen)
        at = (seen.ts_ms, seen.station)
        if line.bag is not None and at > bag_seen.get(line.bag, (-1, "")):
            bag_seen[line.bag] = at
        elif line.bag is None and (unbagged is None or at > unbagged):
            unbagged = at
    lines = sorted(by_id.values(), key=lambda li: (li.line_no, li.tracking_id))
    for line in lines:
        if line.first is None and line.bag in bag_seen:
            ts, station = bag_seen[line.bag]
            line.last_seen = LastSeen(station, ts, f"bag {line.bag}")
    key, latest = _sighting_key, max(bag_seen.values(), default=None)
    if unbagged is not None and (latest is None or unbagged > latest):
        latest = unbagged
    return lines, sorted(duplicates, key=key), sorted(holds, key=key), latest


def _units_last_seen(
    conn: Any,
    manifest_id: str,
    lines: list[LineStatus],
    cut: _Cut,
    own: tuple[tuple[int, str], str] | None,
) -> None:
    """Set where the ULD or bag of each missing line (with no bag seen) was last seen.

    `own` is the latest sighting of this manifest and its unit, when it is one ULD or bag.
    """
    if not lines:
        return
    units: dict[str, list[tuple[str, str]]] = {}  # tracking id -> [(unit manifest id, via)]
    for part in chunks([li.tracking_id for li in lines]):
        where, params = any_of(conn, "l.tracking_id", part)
        for tid, mid, kind, reference in conn.execute(
            UNITS_SQL.format(where=where), [*params, manifest_id]
        ):
            units.setdefault(tid, []).append((mid, f"{kind} {reference}"))
    latest = _unit_sightings(conn, sorted({mid for u in units.values() for mid, _ in u}), cut)
    for li in lines:
        seen = [(latest[mid], via) for mid, via in units.get(li.tracking_id, ()) if mid in latest]
        if own is not None:
            seen.append(own)
        if seen:
            (ts, station), via = max(seen)
            li.last_seen = LastSeen(station, ts, via)


def _unit_sightings(conn: Any, manifest_ids: list[str], cut: _Cut) -> dict[str, tuple[int, str]]:
    """Return manifest id -> the latest (ts, station) any of its lines was seen."""
    latest: dict[str, tuple[int, str]] = {}
    for part in chunks(manifest_ids):
        where, params = any_of(conn, "l.manifest_id", part)
        sql = cut.sql(UNIT_SIGHTINGS_SQL, where=where)
        for mid, committed, station, ts in conn.execute(sql, [cut.ts_ms, *params]):
            if cut.counts(committed) and (ts, station) > latest.get(mid, (-1, "")):
                latest[mid] = (ts, station)
    return latest


def _order(s: Sighting) -> tuple[bool, int, str]:
    """Order a line's sightings: the first that is not a DUPLICATE comes first."""
    return (s.match == "DUPLICATE", s.ts_ms, s.event_id)


def _sighting_key(s: Sighting) -> tuple[int, str]:
    """Order sightings by capture time."""
    return (s.ts_ms, s.event_id)


def progress(conn: Any, manifest_ids: Iterable[str] | None = None) -> dict[str, tuple[int, int]]:
    """Return manifest id -> (seen, expected) for these manifests, or for every open one."""
    if manifest_ids is None:
        sql = PROGRESS_SQL.format(where="m.state = 'open'")
        return {r[0]: (int(r[2]), int(r[1])) for r in conn.execute(sql, (FOREVER_MS,))}
    out: dict[str, tuple[int, int]] = {}
    for part in chunks(sorted(set(manifest_ids))):
        where, params = any_of(conn, "m.id", part)
        sql = PROGRESS_SQL.format(where=where)
        out.update((r[0], (int(r[2]), int(r[1]))) for r in conn.execute(sql, [FOREVER_MS, *params]))
    return out


def check_actor(actor: str) -> str:
    """Return who closes, stripped, or raise CloseoutError when it is empty, long or unprintable."""
    name = (actor or "").strip()
    if not name or len(name) > ACTOR_MAX or not name.isprintable():
        raise CloseoutError(f"closed by {actor!r}: give 1-{ACTOR_MAX} printable characters")
    return name


def close(conn: Any, manifest_id: str, actor: str, now: int, site: str | SiteConfig) -> Report:
    """Close an open manifest in one transaction with its queued close-out event; its report.

    Closing a closed manifest raises AlreadyClosed (naming when and by whom): it is not closed
    again, and report() gives its close-out as it was.
    """
    name = check_actor(actor)
    site_id = site if isinstance(site, str) else site.site.id
    with transaction(conn):
        head = _head(conn, manifest_id)
        if head[3] != "open":
            raise _closed(head)
        if conn.execute(CLOSE_SQL, (now, name, now, manifest_id)).rowcount != 1:
            raise _closed(_head(conn, manifest_id))  # PostgreSQL: closed while we waited
        # Every parcel in the store was stored before now: no need to join the parcels.
        result = _report(conn, _head(conn, manifest_id), now, stored=False)
        event = closeout_event(result, site_id).to_json().decode()
        conn.execute(OUTBOUND_SQL, ("closeout", event, now))
    return result


def _closed(head: Any) -> AlreadyClosed:
    """Return the error for a manifest that is no longer open."""
    if head[5] is None:
        return AlreadyClosed(f"manifest {head[0]!r} is {head[3]}, not open")
    when = from_ms(head[5]).strftime("%Y-%m-%d %H:%M:%S UTC")
    return AlreadyClosed(
        f"manifest {head[0]!r} is already closed (at {when} by {head[6]}); its report stays as"
        " it was then"
    )


closeout_report = report  # the names the first callers used
close_manifest = close
