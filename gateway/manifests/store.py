"""The manifest tables: read a manifest, write an import's lines, keep replaced values."""

from dataclasses import dataclass
from typing import Any

from gateway.manifests.model import Header, Line, ManifestError

LINE_VALUES = (
    "tracking_raw, tracking_kind, declared_kg, hawb, bag, declared_value, currency, ioss,"
    " country, hs_code, description"
)
HISTORY_VALUES = (
    "tracking_raw, declared_kg, hawb, bag, declared_value, currency, ioss, country, hs_code,"
    " description"
)
INSERT_LINE_SQL = (
    f"INSERT INTO manifest_lines (manifest_id, tracking_id, line_no, {LINE_VALUES}, import_id,"
    f" updated_ms) VALUES ({', '.join('?' * 16)})"
)
UPDATE_LINE_SQL = (
    "UPDATE manifest_lines SET line_no = ?, tracking_raw = ?, tracking_kind = ?,"
    " declared_kg = ?, hawb = ?, bag = ?, declared_value = ?, currency = ?, ioss = ?,"
    " country = ?, hs_code = ?, description = ?, import_id = ?, updated_ms = ?,"
    " removed_ms = NULL WHERE manifest_id = ? AND tracking_id = ?"
)
# PostgreSQL: one statement per batch over arrays (executemany costs a round trip per row).
PG_INSERT_LINE_SQL = (
    f"INSERT INTO manifest_lines (manifest_id, tracking_id, line_no, {LINE_VALUES}, import_id,"
    " updated_ms) SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[],"
    " ?::float8[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],"
    " ?::text[], ?::bigint[], ?::bigint[])"
)
PG_SEEN_LINE_SQL = (
    "UPDATE manifest_lines AS m SET line_no = v.line_no, import_id = v.import_id"
    " FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[])"
    " AS v (line_no, import_id, manifest_id, tracking_id)"
    " WHERE m.manifest_id = v.manifest_id AND m.tracking_id = v.tracking_id"
)
SEEN_LINE_SQL = (
    "UPDATE manifest_lines SET line_no = ?, import_id = ? WHERE manifest_id = ? AND tracking_id = ?"
)
HISTORY_SQL = (
    "INSERT INTO manifest_line_history (manifest_id, tracking_id, import_id, changed_ms, change,"
    f" line_no, {HISTORY_VALUES}, updated_ms)"
    f" SELECT manifest_id, tracking_id, ?, ?, ?, line_no, {HISTORY_VALUES}, updated_ms"
    " FROM manifest_lines WHERE manifest_id = ? AND tracking_id = ?"
)
REMOVED_HISTORY_SQL = (
    "INSERT INTO manifest_line_history (manifest_id, tracking_id, import_id, changed_ms, change,"
    f" line_no, {HISTORY_VALUES}, updated_ms)"
    f" SELECT manifest_id, tracking_id, ?, ?, 'removed', line_no, {HISTORY_VALUES}, updated_ms"
    " FROM manifest_lines WHERE manifest_id = ? AND import_id <> ? AND removed_ms IS NULL"
)
REMOVE_SQL = (
    "UPDATE manifest_lines SET removed_ms = ?"
    " WHERE manifest_id = ? AND import_id <> ? AND removed_ms IS NULL"
)
HEADER_COLUMNS = "id, kind, reference, carrier, flight, flight_date, mawb, uld, bag"


@dataclass
class Written:
    """What one batch of lines did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: list[tuple[Line, int]] | None = None  # (line, line number it repeats)


def manifest(conn: Any, manifest_id: str) -> Any:
    """Return a manifest row (id, kind, reference, state, sha256) or None."""
    return conn.execute(
        "SELECT id, kind, reference, state, sha256 FROM manifests WHERE id = ?", (manifest_id,)
    ).fetchone()


def ensure_manifest(conn: Any, header: Header, now: int) -> None:
    """Create the manifest, or check that an existing one is the same unit and still open."""
    row = manifest(conn, header.id)
    if row is None:
        conn.execute(
            f"INSERT INTO manifests ({HEADER_COLUMNS}, created_ms, updated_ms)"
            f" VALUES ({', '.join('?' * 11)})",
            (*_header_values(header), now, now),
        )
        return
    if (row[1], row[2]) != (header.kind, header.reference):
        raise ManifestError(
            f"manifest {header.id!r} is the {row[1]} {row[2]!r}, not the {header.kind}"
            f" {header.reference!r}"
        )
    if row[3] != "open":
        raise ManifestError(f"manifest {header.id!r} is {row[3]}: its lines can no longer change")
    conn.execute(
        "UPDATE manifests SET carrier = coalesce(?, carrier), flight = coalesce(?, flight),"
        " flight_date = coalesce(?, flight_date), mawb = coalesce(?, mawb),"
        " uld = coalesce(?, uld), bag = coalesce(?, bag) WHERE id = ?",
        (*_header_values(header)[3:], header.id),
    )


def _header_values(header: Header) -> tuple:
    """Return the header's values in HEADER_COLUMNS order."""
    return (
        header.id, header.kind, header.reference, header.carrier, header.flight,
        header.flight_date, header.mawb, header.uld, header.bag,
    )  # fmt: skip


def start_import(conn: Any, manifest_id: str, now: int, name: str, sha: str, fmt: str) -> int:
    """Record an import run (counts filled in by finish_import) and return its id."""
    row = conn.execute(
        "INSERT INTO manifest_imports (manifest_id, imported_ms, source_name, sha256, bytes,"
        " format, lines, inserted, updated, unchanged, removed, rejected)"
        " VALUES (?, ?, ?, ?, 0, ?, 0, 0, 0, 0, 0, 0) RETURNING id",
        (manifest_id, now, name, sha, fmt),
    ).fetchone()
    return int(row[0])


def finish_import(conn: Any, import_id: int, counts: dict[str, int]) -> None:
    """Store an import run's counts and size."""
    names = ("bytes", "lines", "inserted", "updated", "unchanged", "removed", "rejected")
    conn.execute(
        f"UPDATE manifest_imports SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
        (*(counts[n] for n in names), import_id),
    )


def write_lines(
    conn: Any, manifest_id: str, import_id: int, lines: list[Line], now: int
) -> Written:
    """Insert new lines, update changed ones (keeping the old values), mark unchanged ones seen."""
    out = Written(duplicates=[])
    first: dict[str, Line] = {}
    batch: list[Line] = []
    for line in lines:
        if line.tracking_id in first:
            out.duplicates.append((line, first[line.tracking_id].line_no))  # type: ignore[union-attr]
        else:
            first[line.tracking_id] = line
            batch.append(line)
    if not batch:
        return out
    select = (
        f"SELECT tracking_id, line_no, import_id, removed_ms, {LINE_VALUES} FROM manifest_lines"
    )
    if conn.dialect == "postgresql":
        where, params = "tracking_id = ANY(?::text[])", (manifest_id, list(first))
    else:
        where, params = f"tracking_id IN ({', '.join('?' * len(first))})", (manifest_id, *first)
    rows = conn.execute(f"{select} WHERE manifest_id = ? AND {where}", params).fetchall()
    stored = {r[0]: r for r in rows}
    inserts, updates, seen, history = [], [], [], []
    for line in batch:
        old = stored.get(line.tracking_id)
        values = line.values()
        if old is None:
            inserts.append((manifest_id, line.tracking_id, line.line_no, *values, import_id, now))
            out.inserted += 1
        elif old[2] == import_id:
            out.duplicates.append((line, old[1]))  # type: ignore[union-attr]
        elif tuple(old[4:]) == values and old[3] is None:
            seen.append((line.line_no, import_id, manifest_id, line.tracking_id))
            out.unchanged += 1
        else:
            history.append((import_id, now, "updated", manifest_id, line.tracking_id))
            updates.append((line.line_no, *values, import_id, now, manifest_id, line.tracking_id))
            out.updated += 1
    if conn.dialect == "postgresql":
        for sql, params in ((PG_INSERT_LINE_SQL, inserts), (PG_SEEN_LINE_SQL, seen)):
            if params:
                conn.execute(sql, [list(column) for column in zip(*params, strict=True)])
        inserts, seen = [], []
    for sql, params in (
        (HISTORY_SQL, history), (INSERT_LINE_SQL, inserts), (UPDATE_LINE_SQL, updates),
        (SEEN_LINE_SQL, seen),
    ):  # fmt: skip
        if params:
            conn.executemany(sql, params)
    return out


def mark_seen(conn: Any, manifest_id: str, import_id: int, tracking_ids: list[str]) -> None:
    """Keep lines the file lists but rejected this time (their stored values stand)."""
    conn.executemany(
        "UPDATE manifest_lines SET import_id = ? WHERE manifest_id = ? AND tracking_id = ?",
        [(import_id, manifest_id, t) for t in tracking_ids],
    )


def remove_unlisted(conn: Any, manifest_id: str, import_id: int, now: int) -> int:
    """Mark the lines this import did not list as removed, keeping them in the history."""
    conn.execute(REMOVED_HISTORY_SQL, (import_id, now, manifest_id, import_id))
    return conn.execute(REMOVE_SQL, (now, manifest_id, import_id)).rowcount


def finish_manifest(conn: Any, manifest_id: str, now: int, name: str, sha: str) -> None:
    """Record the file a manifest was last imported from."""
    conn.execute(
        "UPDATE manifests SET updated_ms = ?, source_name = ?, sha256 = ? WHERE id = ?",
        (now, name, sha, manifest_id),
    )
