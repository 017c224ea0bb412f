"""The PostgreSQL parcel insert done several ways, for bench/pg_bench.py's `writes` part.

Each path replaces only `Store._insert_pg`; the rest of the batch transaction (stations,
counters, the fsynced commit) is the store's own. bench/gateway_variant.py runs the real
gateway with one of them.
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from gateway.db.postgres import translate  # noqa: E402
from gateway.store import CODE_SQL, PARCEL_COLUMNS, PARCEL_SQL, Batch, Store  # noqa: E402
from tests.gateway.ingest_support import parcel  # noqa: E402
from tests.support.postgres import Postgres  # noqa: E402

CODE_COLUMNS = "event_id, text, symbology, kind, check_ok"
ROW_SQL = translate(PARCEL_SQL + " ON CONFLICT DO NOTHING RETURNING event_id", True)
STAGE_SQL = (
    "CREATE TEMP TABLE parcels_stage (LIKE parcels) ON COMMIT DELETE ROWS;"
    " CREATE TEMP TABLE codes_stage (LIKE parcel_codes) ON COMMIT DELETE ROWS"
)
FROM_STAGE_SQL = (
    f"INSERT INTO parcels ({PARCEL_COLUMNS}) SELECT {PARCEL_COLUMNS} FROM parcels_stage"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)
CODES_FROM_STAGE_SQL = (
    f"INSERT INTO parcel_codes ({CODE_COLUMNS}) SELECT {CODE_COLUMNS} FROM codes_stage"
)


# -- write paths ------------------------------------------------------------------------------


def insert_executemany(store: Store, rows: list[tuple], codes: list[tuple]) -> int:
    """One-row INSERT ... RETURNING per parcel, pipelined by psycopg's executemany."""
    inserted: set[str] = set()
    with store.conn.raw.cursor() as cur:
        cur.executemany(ROW_SQL, rows, returning=True)
        while True:
            inserted.update(r[0] for r in cur.fetchall())
            if not cur.nextset():
                break
    store.conn.executemany(CODE_SQL, [c for c in codes if c[0] in inserted])
    return len(inserted)


def insert_copy(store: Store, rows: list[tuple], codes: list[tuple]) -> int:
    """COPY into temporary staging tables, then INSERT ... SELECT ON CONFLICT DO NOTHING."""
    raw = store.conn.raw
    if not getattr(store, "staged", False):
        raw.execute(STAGE_SQL)  # per connection; rows vanish at each commit
        store.staged = True  # type: ignore[attr-defined]
    with raw.cursor() as cur:
        with cur.copy(f"COPY parcels_stage ({PARCEL_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        inserted = {r[0] for r in cur.execute(FROM_STAGE_SQL).fetchall()}
        keep = [c for c in codes if c[0] in inserted]
        if keep:
            with cur.copy(f"COPY codes_stage ({CODE_COLUMNS}) FROM STDIN") as copy:
                for code in keep:
                    copy.write_row(code)
            cur.execute(CODES_FROM_STAGE_SQL)
    return len(inserted)


class TextParams:
    """The store's PostgreSQL connection with its binary `%b` placeholders sent as text `%s`.

    As text, psycopg sends a Python list as an array literal and escapes every element in
    Python (a regex per element, ~7 ms per 50 parcels here): the store's path before 509d6f4.
    """

    def __init__(self, conn: object) -> None:
        self.raw = conn.raw  # type: ignore[attr-defined]

    def execute(self, sql: str, params: object = None) -> object:
        """Run one statement with text parameters."""
        return self.raw.execute(sql.replace("%b", "%s"), params)


STORE_INSERT_PG = Store._insert_pg  # the store's own, kept before gateway_variant swaps it


def insert_unnest_text(store: Store, rows: list[tuple], codes: list[tuple]) -> int:
    """The store's own unnest() statements, the arrays sent as text literals."""
    return STORE_INSERT_PG(SimpleNamespace(conn=TextParams(store.conn)), rows, codes)  # type: ignore[arg-type]


# name: (label, the insert it uses: None = the store's own)
PATHS: dict[str, tuple[str, Callable[[Store, list, list], int] | None]] = {
    "unnest": ("one INSERT ... SELECT FROM unnest(arrays in binary) (the store's)", None),
    "unnest-text": (
        "the same unnest() statement, arrays sent as text (before 509d6f4)",
        insert_unnest_text,
    ),
    "executemany": (
        "executemany of a one-row INSERT ... RETURNING (pipelined)",
        insert_executemany,
    ),
    "copy": ("COPY to a temp table + INSERT ... SELECT ON CONFLICT", insert_copy),
    "sqlite": ("reference: SQLite store (synchronous=FULL)", None),
}


class PathStore(Store):
    """The gateway store with its PostgreSQL parcel insert swapped for one of PATHS; timed."""

    def __init__(self, target: str, path: str) -> None:
        super().__init__(target, gateway="bench")
        self.insert = PATHS[path][1]
        self.insert_s = 0.0

    def _insert_pg(self, rows: list[tuple], codes: list[tuple]) -> int:
        start = time.perf_counter()
        n = self.insert(self, rows, codes) if self.insert else super()._insert_pg(rows, codes)
        self.insert_s += time.perf_counter() - start
        return n

    def _insert_sqlite(self, rows: list[tuple], codes: list[tuple]) -> int:
        start = time.perf_counter()
        n = super()._insert_sqlite(rows, codes)
        self.insert_s += time.perf_counter() - start
        return n


def make_batches(events: int, size: int, stations: int) -> list[list]:
    """Return parcel batches as the ingest loop hands them to Store.write."""
    rx = int(time.time() * 1000)
    items = []
    for i in range(events):
        event = parcel(f"st{i % stations + 1}", i // stations + 1)
        items.append((event, event.to_json(), rx))
    return [items[i : i + size] for i in range(0, events, size)]


def write_case(target: str, path: str, batches: list[list]) -> dict:
    """Write every batch in its own transaction; return events/s and the insert's share."""
    store = PathStore(target, path)
    try:
        n = sum(len(b) for b in batches)
        wall, cpu = time.perf_counter(), time.process_time()
        inserted = sum(store.write(Batch(parcels=b)).inserted for b in batches)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        store.close()
    assert inserted == n, f"{path}: {inserted} of {n} inserted"
    return {
        "per_s": n / wall,
        "insert_us": store.insert_s / n * 1e6,
        "cpu_us": cpu / n * 1e6,
        "batch_ms": wall / len(batches) * 1000,
    }


def writes_part(args: argparse.Namespace, pg: Postgres, tmp: Path) -> dict:
    """Run every write path at every batch size, interleaved run by run."""
    out: dict[tuple[int, str], list[dict]] = {}
    for size in args.sizes:
        batches = make_batches(args.write_events, size, 4)
        for r in range(args.runs):
            for path in PATHS:
                if path == "sqlite":
                    target = str(tmp / f"w-{size}-{r}.db")
                else:
                    target = pg.url(pg.create_database(), password=True)
                res = write_case(target, path, batches)
                out.setdefault((size, path), []).append(res)
                print("writes", size, path, r, {k: round(v, 1) for k, v in res.items()}, flush=True)
    return out
