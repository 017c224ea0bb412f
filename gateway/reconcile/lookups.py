"""What a verdict reads of the store: open manifests, their lines, holds, earlier sightings.

Every query here works on both stores; lists of ids go in statement-sized pieces.
"""

from collections.abc import Iterable
from typing import Any

from gateway.reconcile.verdict import ListedLine

CHUNK = 500


def any_of(conn: Any, column: str, values: list[str]) -> tuple[str, list[Any]]:
    """Return `column IN (...)` for SQLite or `column = ANY(array)` for PostgreSQL."""
    if conn.dialect == "postgresql":
        return f"{column} = ANY(?::text[])", [values]
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def chunks(values: list[str]) -> Iterable[list[str]]:
    """Yield the values in statement-sized pieces."""
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


def open_kinds(conn: Any) -> dict[str, str]:
    """Return the open manifests' kinds by id (none open: a parcel is NO_MANIFEST)."""
    return dict(conn.execute("SELECT id, kind FROM manifests WHERE state = 'open'").fetchall())


def listed_lines(conn: Any, ids: list[str], kinds: dict[str, str]) -> dict[str, list[ListedLine]]:
    """Return the current lines of the open manifests (`kinds`) for these tracking ids."""
    out: dict[str, list[ListedLine]] = {}
    if not kinds:
        return out
    for part in chunks(ids):
        where, params = any_of(conn, "tracking_id", part)
        for tid, manifest_id, declared in conn.execute(
            "SELECT tracking_id, manifest_id, declared_kg FROM manifest_lines"
            f" WHERE {where} AND removed_ms IS NULL",
            params,
        ):
            kind = kinds.get(manifest_id)
            if kind is not None:
                line = ListedLine(manifest_id, kind, declared)
                if tid in out:
                    out[tid].append(line)
                else:
                    out[tid] = [line]
    return out


def held(conn: Any, ids: list[str]) -> dict[str, str]:
    """Return the hold reason of each held id among these."""
    out: dict[str, str] = {}
    for part in chunks(ids):
        where, params = any_of(conn, "tracking_id", part)
        out.update(conn.execute(f"SELECT tracking_id, reason FROM holds WHERE {where}", params))
    return out


def first_sightings(conn: Any, ids: list[str]) -> dict[str, tuple[int, str]]:
    """Return the earliest stored sighting (ts, event id) of each id among these."""
    out: dict[str, tuple[int, str]] = {}
    for part in chunks(ids):
        where, params = any_of(conn, "tracking_id", part)
        for tid, event_id, ts in conn.execute(
            f"SELECT tracking_id, event_id, ts_ms FROM verdicts WHERE {where}", params
        ):
            if tid not in out or (ts, event_id) < out[tid]:
                out[tid] = (ts, event_id)
    return out


def inputs(conn: Any) -> tuple:
    """Return what a verdict depends on, in a form that changes whenever any of it does.

    The open manifests (an import sets updated_ms, a close drops one), the last import, the
    hold list's version and the last verdict stored (by another reconciler).
    """
    return (
        conn.execute(
            "SELECT id, kind, updated_ms FROM manifests WHERE state = 'open' ORDER BY id"
        ).fetchall(),
        conn.execute(
            "SELECT (SELECT max(id) FROM manifest_imports), (SELECT max(id) FROM hold_history),"
            " (SELECT max(rowid) FROM verdicts)"
        ).fetchone(),
    )


def missing_parcels(conn: Any, event_ids: list[str]) -> list[str]:
    """Return the ones among these event ids that no stored parcel has."""
    found: set[str] = set()
    for part in chunks(event_ids):
        where, params = any_of(conn, "event_id", part)
        rows = conn.execute(f"SELECT event_id FROM parcels WHERE {where}", params)
        found.update(r[0] for r in rows)
    return [e for e in event_ids if e not in found]
