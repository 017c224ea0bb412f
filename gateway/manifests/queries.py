"""Read-only manifest queries shared by the CLI (and later the UI and API)."""

from typing import Any

LIST_SQL = """
    SELECT m.id, m.kind, m.reference, m.state, m.updated_ms, m.source_name,
           count(l.tracking_id) AS lines,
           coalesce(sum(CASE WHEN l.removed_ms IS NULL THEN 0 ELSE 1 END), 0) AS removed
      FROM manifests m LEFT JOIN manifest_lines l ON l.manifest_id = m.id
     {where}
     GROUP BY m.id, m.kind, m.reference, m.state, m.updated_ms, m.source_name
     ORDER BY m.updated_ms DESC, m.id
"""

LINES_SQL = """
    SELECT line_no, tracking_id, tracking_raw, declared_kg, hawb, bag, country, removed_ms
      FROM manifest_lines
     WHERE manifest_id = ? {removed}
     ORDER BY line_no, tracking_id
     LIMIT ?
"""

LIST_COLUMNS = ("id", "kind", "reference", "state", "updated_ms", "source_name", "lines", "removed")
LINE_COLUMNS = (
    "line_no", "tracking_id", "tracking_raw", "declared_kg", "hawb", "bag", "country",
    "removed_ms",
)  # fmt: skip


def list_manifests(conn: Any, state: str | None = None) -> list[dict[str, Any]]:
    """Every manifest (or those in one state), newest first, with its line counts."""
    where, params = ("WHERE m.state = ?", (state,)) if state else ("", ())
    rows = conn.execute(LIST_SQL.format(where=where), params).fetchall()
    return [dict(zip(LIST_COLUMNS, row, strict=True)) for row in rows]


def manifest_lines(
    conn: Any, manifest_id: str, limit: int, with_removed: bool = False
) -> list[dict[str, Any]]:
    """A manifest's lines in file order, at most `limit` of them."""
    removed = "" if with_removed else "AND removed_ms IS NULL"
    rows = conn.execute(LINES_SQL.format(removed=removed), (manifest_id, limit)).fetchall()
    return [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows]
