"""The verdict queue: parcels stored but not judged yet, written in their batch's transaction.

The ingest adds one row per batch: the sightings (tracking id, station, capture time, stable
weight) of its new parcels that have a usable code, as one JSON array, in the transaction that
stores the parcels, so a parcel is never stored without either its verdict or its queue entry.
One row and one statement per batch cost the ingest a fraction of a row per parcel. The
reconciler takes rows in id order and deletes them in the transaction that stores their
verdicts: a SIGKILL anywhere leaves the row, and the next reconciler judges it once.
"""

from collections.abc import Iterable
from typing import Any

import orjson

from gateway.reconcile.verdict import Sighting

INSERT_SQL = "INSERT INTO verdict_queue (parcels, sightings) VALUES (?, ?)"
TAKE_SQL = "SELECT id, parcels, sightings FROM verdict_queue ORDER BY id LIMIT ?"
TAKE_ROWS = 16  # rows read per look: enough for a drain of ingest batches of any usual size


def enqueue(conn: Any, sightings: Iterable[Sighting | None]) -> None:
    """Queue the usable sightings of one batch (inside the transaction that stores its parcels)."""
    rows = [tuple(s) for s in sightings if s is not None]
    if rows:
        conn.execute(INSERT_SQL, (len(rows), orjson.dumps(rows).decode()))


def pending(conn: Any) -> bool:
    """Return whether any parcel waits for its verdict (polled: through the id index only).

    min(id) reads the index's first live entry on both stores; PostgreSQL would otherwise scan
    the heap, which the queue's inserts and deletes fill with dead rows until a vacuum.
    """
    return conn.execute("SELECT min(id) FROM verdict_queue").fetchone()[0] is not None


def depth(conn: Any) -> int:
    """Return how many parcels wait for their verdict."""
    return int(conn.execute("SELECT coalesce(sum(parcels), 0) FROM verdict_queue").fetchone()[0])


def take(conn: Any, limit: int) -> tuple[list[int], list[Sighting]]:
    """Return the oldest rows' ids and sightings: whole rows, up to `limit` sightings (or one)."""
    ids: list[int] = []
    sightings: list[Sighting] = []
    for row_id, parcels, text in conn.execute(TAKE_SQL, (TAKE_ROWS,)).fetchall():
        if ids and len(sightings) + parcels > limit:
            break  # counted before parsing: a row left for the next drain is not decoded
        ids.append(row_id)
        sightings.extend(Sighting(*s) for s in orjson.loads(text))
    return ids, sightings


def remove(conn: Any, ids: list[int]) -> int:
    """Delete these queue rows (in the transaction that stored their verdicts); count them."""
    if not ids:
        return 0
    if conn.dialect == "postgresql":
        sql = "DELETE FROM verdict_queue WHERE id = ANY(?::bigint[])"
        return conn.execute(sql, (ids,)).rowcount
    marks = ", ".join("?" * len(ids))
    return conn.execute(f"DELETE FROM verdict_queue WHERE id IN ({marks})", ids).rowcount
