"""The manifest tables: read a manifest, write an import's lines, keep replaced values."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.clock import from_ms
from gateway.manifests.fastline import Checked
from gateway.manifests.model import Header, ManifestClosed, ManifestError

LINE_VALUES = (
    "tracking_raw, tracking_kind, declared_kg, hawb, bag, declared_value, currency, ioss,"
    " country, hs_code, description"
)
HISTORY_VALUES = (
    "tracking_raw, declared_kg, hawb, bag, declared_value, currency, ioss, country, hs_code,"
    " description"
)
NEW_LINE = " ON CONFLICT (manifest_id, tracking_id) DO NOTHING"  # the id is listed already
INSERT_LINE_SQL = (
    f"INSERT INTO manifest_lines (manifest_id, tracking_id, line_no, {LINE_VALUES}, import_id,"
    f" updated_ms) VALUES ({', '.join('?' * 16)}){NEW_LINE}"
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
    f" ?::text[], ?::bigint[], ?::bigint[]){NEW_LINE}"
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
STORED_COLUMNS = f"tracking_id, line_no, import_id, removed_ms, {LINE_VALUES}"
HEADER_COLUMNS = "id, kind, reference, carrier, flight, flight_date, mawb, uld, bag"


@dataclass
class Written:
    """What one batch of lines did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # line, id, first line


def manifest(conn: Any, manifest_id: str) -> Any:
    """Return a manifest row (id, kind, reference, state, sha256, closed_ms, closed_by) or None."""
    return conn.execute(
        "SELECT id, kind, reference, state, sha256, closed_ms, closed_by FROM manifests"
        " WHERE id = ?",
        (manifest_id,),
    ).fetchone()


def closed(row: Any) -> ManifestClosed:
    """Return the error for importing into a manifest row that is no longer open."""
    what = f"manifest {row[0]!r} is {row[3]}"
    if row[5] is not None:
        when = from_ms(row[5]).strftime("%Y-%m-%d %H:%M:%S UTC")
        what = f"manifest {row[0]!r} was closed at {when} by {row[6]}"
    return ManifestClosed(
        f"{what}: no file may change its lines any more, so its close-out report stands"
    )


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
    # Only while open, in one statement: on PostgreSQL a close committed since the read above
    # leaves no row to update, and a close after it waits for this transaction.
    opened = conn.execute(
        "UPDATE manifests SET carrier = coalesce(?, carrier), flight = coalesce(?, flight),"
        " flight_date = coalesce(?, flight_date), mawb = coalesce(?, mawb),"
        " uld = coalesce(?, uld), bag = coalesce(?, bag) WHERE id = ? AND state = 'open'",
        (*_header_values(header)[3:], header.id),
    ).rowcount
    if not opened:
        raise closed(manifest(conn, header.id))


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


def has_lines(conn: Any, manifest_id: str) -> bool:
    """Return whether a manifest holds any line (removed ones too)."""
    row = conn.execute("SELECT 1 FROM manifest_lines WHERE manifest_id = ? LIMIT 1", (manifest_id,))
    return row.fetchone() is not None


def write_lines(
    conn: Any, manifest_id: str, import_id: int, rows: list[Checked], now: int, fresh: bool
) -> Written:
    """Insert new lines, update changed ones (keeping the old values), mark unchanged ones seen."""
    out = Written()
    if fresh and conn.dialect == "sqlite":
        # The manifest held no line before this import: every id is new unless the file lists
        # it twice, and then the first stays (executemany inserts in order).
        out.inserted = conn.executemany(INSERT_LINE_SQL, rows).rowcount
        if out.inserted < len(rows):
            _duplicates(conn, manifest_id, rows, out)
        return out
    first: dict[str, Checked] = {}
    for row in rows:
        if row[1] in first:
            out.duplicates.append((row[2], row[1], first[row[1]][2]))
        else:
            first[row[1]] = row
    batch = list(first.values()) if out.duplicates else rows
    if fresh:
        out.inserted = _insert(conn, batch)
        if out.inserted < len(batch):
            _duplicates(conn, manifest_id, batch, out)
        return out
    stored = {r[0]: r for r in _stored(conn, manifest_id, first, STORED_COLUMNS)}
    inserts, updates, seen, history = [], [], [], []
    for row in batch:
        old = stored.get(row[1])
        if old is None:
            inserts.append(row)
        elif old[2] == import_id:
            out.duplicates.append((row[2], row[1], old[1]))
        elif old[3] is None and tuple(old[4:]) == row[3:14]:
            seen.append((row[2], import_id, manifest_id, row[1]))
        else:
            history.append((import_id, now, "updated", manifest_id, row[1]))
            updates.append((row[2], *row[3:14], import_id, now, manifest_id, row[1]))
    out.inserted = _insert(conn, inserts)
    out.updated, out.unchanged = len(updates), len(seen)
    if history:
        conn.executemany(HISTORY_SQL, history)
        conn.executemany(UPDATE_LINE_SQL, updates)
    if seen and conn.dialect == "postgresql":
        conn.execute(PG_SEEN_LINE_SQL, [list(column) for column in zip(*seen, strict=True)])
    elif seen:
        conn.executemany(SEEN_LINE_SQL, seen)
    return out


def _insert(conn: Any, rows: list[Checked]) -> int:
    """Insert lines whose id the manifest does not hold yet; return how many went in."""
    if not rows:
        return 0
    if conn.dialect == "postgresql":
        return conn.execute(PG_INSERT_LINE_SQL, [list(c) for c in zip(*rows, strict=True)]).rowcount
    return conn.executemany(INSERT_LINE_SQL, rows).rowcount


def _duplicates(conn: Any, manifest_id: str, rows: list[Checked], out: Written) -> None:
    """Report the rows an insert left out: their id is stored already, from an earlier line."""
    stored = dict(_stored(conn, manifest_id, {row[1] for row in rows}, "tracking_id, line_no"))
    out.duplicates += [(row[2], row[1], stored[row[1]]) for row in rows if stored[row[1]] != row[2]]


def _stored(conn: Any, manifest_id: str, ids: Iterable[str], columns: str) -> list[Any]:
    """Return the stored lines of a manifest with these ids: the columns asked for."""
    select = f"SELECT {columns} FROM manifest_lines"
    if conn.dialect == "postgresql":
        where, params = "tracking_id = ANY(?::text[])", (manifest_id, list(ids))
    else:
        ids = list(ids)
        where, params = f"tracking_id IN ({', '.join('?' * len(ids))})", (manifest_id, *ids)
    return conn.execute(f"{select} WHERE manifest_id = ? AND {where}", params).fetchall()


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
