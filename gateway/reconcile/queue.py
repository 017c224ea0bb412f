"""The verdict queue: parcels stored but not judged yet, written in the parcel's transaction.

The ingest adds one row per new parcel that has a usable code (its sighting: tracking id,
station, capture time, stable weight) in the same transaction as the parcel, so a parcel is
never stored without either its verdict or its queue row. The reconciler takes rows in id order
and deletes them in the transaction that stores their verdicts: a SIGKILL anywhere leaves the
row, and the next reconciler judges it once.
"""

from typing import Any

from gateway.reconcile.verdict import Sighting

COLUMNS = "event_id, tracking_id, station, ts_ms, measured_kg"
INSERT_SQL = f"INSERT INTO verdict_queue ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
# PostgreSQL: one statement per batch over arrays sent in binary, as the parcels are.
PG_INSERT_SQL = (
    f"INSERT INTO verdict_queue ({COLUMNS}) SELECT * FROM unnest(%b::text[], %b::text[],"
    " %b::text[], %b::bigint[], %b::float8[])"
)
TAKE_SQL = f"SELECT id, {COLUMNS} FROM verdict_queue ORDER BY id LIMIT ?"
CHUNK = 500


def enqueue(conn: Any, sightings: list[Sighting]) -> None:
    """Queue these sightings for judging (inside the transaction that stores their parcels)."""
    if not sightings:
        return
    if conn.dialect == "postgresql":
        conn.execute(PG_INSERT_SQL, [list(col) for col in zip(*sightings, strict=True)])
    else:
        conn.executemany(INSERT_SQL, sightings)


def pending(conn: Any) -> bool:
    """Return whether any parcel waits for its verdict (polled: through the id index only).

    min(id) reads the index's first live entry on both stores; PostgreSQL would otherwise scan
    the heap, which the queue's inserts and deletes fill with dead rows until a vacuum.
    """
    return conn.execute("SELECT min(id) FROM verdict_queue").fetchone()[0] is not None


def depth(conn: Any) -> int:
    """Return how many parcels wait for their verdict."""
    return int(conn.execute("SELECT count(*) FROM verdict_queue").fetchone()[0])


def take(conn: Any, limit: int) -> tuple[list[int], list[Sighting]]:
    """Return the ids and sightings of up to `limit` queued parcels, oldest row first."""
    ids, sightings = [], []
    for row in conn.execute(TAKE_SQL, (limit,)).fetchall():
        ids.append(row[0])
        sightings.append(Sighting(row[1], row[2], row[3], row[4], row[5]))
    return ids, sightings


def remove(conn: Any, ids: list[int]) -> int:
    """Delete these queue rows (in the transaction that stored their verdicts); count them."""
    if conn.dialect == "postgresql":
        sql = "DELETE FROM verdict_queue WHERE id = ANY(?::bigint[])"
        return conn.execute(sql, (ids,)).rowcount
    removed = 0
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        marks = ", ".join("?" * len(part))
        removed += conn.execute(f"DELETE FROM verdict_queue WHERE id IN ({marks})", part).rowcount
    return removed
