"""The gateway's SQLite schema: the version-1 tables, later migrations, and how to apply them.

PostgreSQL stores are created at the current version by gateway/db/pg_schema.py; a migration
added here needs its PostgreSQL twin there.
"""

import sqlite3

from dockscan.errors import StoreError
from gateway.schema_hub import HUB_MIGRATIONS

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS parcels (
    event_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    station TEXT NOT NULL,
    dock TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,          -- capture time at the edge, UTC epoch ms
    received_ms INTEGER NOT NULL,    -- arrival at the gateway
    committed_ms INTEGER NOT NULL,   -- batch commit time
    outcome TEXT NOT NULL,
    barcode TEXT,                    -- primary code text (first valid, else first)
    weight_kg REAL,
    flags TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL            -- the event as received (JSON)
);
CREATE INDEX IF NOT EXISTS parcels_station_ts ON parcels (station, ts_ms);
CREATE INDEX IF NOT EXISTS parcels_ts ON parcels (ts_ms);
CREATE INDEX IF NOT EXISTS parcels_outcome_ts ON parcels (outcome, ts_ms);
CREATE INDEX IF NOT EXISTS parcels_station_seq ON parcels (station, seq);

CREATE TABLE IF NOT EXISTS parcel_codes (
    event_id TEXT NOT NULL REFERENCES parcels (event_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    symbology TEXT NOT NULL,
    kind TEXT NOT NULL,
    check_ok INTEGER
);
CREATE INDEX IF NOT EXISTS parcel_codes_text ON parcel_codes (text);
CREATE INDEX IF NOT EXISTS parcel_codes_event ON parcel_codes (event_id);

CREATE TABLE IF NOT EXISTS stations (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    dock TEXT,
    state TEXT NOT NULL DEFAULT 'unknown',   -- online, offline, stale, unknown
    session INTEGER NOT NULL DEFAULT 0,
    state_since_ms INTEGER,
    last_seen_ms INTEGER,
    last_event_ms INTEGER,
    last_telemetry_ms INTEGER,
    telemetry_interval_s REAL,
    outbox_depth INTEGER,
    oldest_pending_age_s REAL,
    version TEXT,
    devices TEXT NOT NULL DEFAULT '{}',      -- JSON: id -> {kind, state, reason, since}
    counters TEXT NOT NULL DEFAULT '{}',     -- JSON from telemetry
    last_seq INTEGER,                        -- highest seq committed
    seq_gaps INTEGER NOT NULL DEFAULT 0      -- seq numbers found missing (see seq_checked)
);

CREATE TABLE IF NOT EXISTS station_events (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    kind TEXT NOT NULL,          -- state, device, seq_gap
    device TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    start_ms INTEGER NOT NULL,
    end_ms INTEGER               -- NULL while open
);
CREATE INDEX IF NOT EXISTS station_events_station ON station_events (station, start_ms);
CREATE INDEX IF NOT EXISTS station_events_open ON station_events (station, device, end_ms);

CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    station TEXT,                -- from the topic when it parses
    payload BLOB NOT NULL,       -- truncated to gateway.dead_letter_payload_bytes
    payload_bytes INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_ms);
CREATE INDEX IF NOT EXISTS dead_letters_station ON dead_letters (station, received_ms);

-- Counters the ingest process keeps for /metrics (the web UI runs in another process).
-- Names: events_ingested_total, events_duplicate_total, dead_letters_total (distinct rows added),
-- dead_letters_repeated_total (arrivals of a message already dead-lettered), acks_sent_total,
-- batches_total, ingest_latency_seconds_sum, ingest_latency_seconds_count,
-- ingest_latency_seconds_bucket:<le> (le: 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf),
-- broker_connected (0/1), heartbeat_ms (last time the ingest loop ran).
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
"""

# Migration N turns a version N-1 database into version N. Append, never edit a shipped one.
MIGRATIONS: dict[int, str] = {
    2: """
    -- Gap detection checkpoint: every seq up to here has been checked for holes.
    ALTER TABLE stations ADD COLUMN seq_checked INTEGER;
    CREATE INDEX IF NOT EXISTS station_events_kind ON station_events (kind, start_ms);
    """,
    3: """
    -- One dead-letter row per distinct message (sha256 of topic and payload, see
    -- gateway/deadletters.py): `repeats` counts its arrivals (1 the first time), `last_ms` the
    -- latest; received_ms stays the first. Retention goes by last_ms.
    ALTER TABLE dead_letters ADD COLUMN digest TEXT;
    ALTER TABLE dead_letters ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE dead_letters ADD COLUMN last_ms INTEGER;
    UPDATE dead_letters SET last_ms = received_ms;
    CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_digest ON dead_letters (digest);
    CREATE INDEX IF NOT EXISTS dead_letters_last ON dead_letters (last_ms);
    """,
    4: """
    -- The seq-gap check (gateway/liveness.py) reads only these columns: with them in the
    -- index it never visits the table rows.
    DROP INDEX IF EXISTS parcels_station_seq;
    CREATE INDEX parcels_station_seq ON parcels (station, seq, received_ms, ts_ms);
    """,
    5: """
    -- Several gateways share one store: each keeps its own counter rows (no two gateways
    -- update the same row, so their commits never wait on each other), and `leases` says
    -- which gateway runs the once-per-site duties (see gateway/lease.py).
    CREATE TABLE counters_v5 (
        gateway TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (gateway, name)
    );
    INSERT INTO counters_v5 (gateway, name, value) SELECT '', name, value FROM counters;
    DROP TABLE counters;
    ALTER TABLE counters_v5 RENAME TO counters;
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        since_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    """,
    **HUB_MIGRATIONS,
}
SCHEMA_VERSION = max(MIGRATIONS)
SET_VERSION_SQL = (
    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the schema version of an open database (0 when it has no tables yet)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "parcels" not in tables:
        return 0
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return version or 1  # version-1 databases were created before the version was recorded


def check_version(old: int) -> None:
    """Refuse a store written by a newer gateway."""
    if old > SCHEMA_VERSION:
        raise StoreError(
            f"database schema is version {old}, newer than this gateway's {SCHEMA_VERSION}:"
            " upgrade dockscan"
        )


def migrate(conn: sqlite3.Connection) -> int:
    """Create or upgrade the schema to SCHEMA_VERSION in one transaction; return the old version.

    `conn` must be in autocommit mode (isolation_level=None); the version is read under the
    write lock, so two processes starting together migrate once.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        old = schema_version(conn)
        check_version(old)
        steps = [DDL] if old == 0 else []
        steps += [MIGRATIONS[v] for v in range(max(old, 1) + 1, SCHEMA_VERSION + 1)]
        for script in steps:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute(SET_VERSION_SQL, (str(SCHEMA_VERSION),))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return old


def _statements(script: str) -> list[str]:
    """Split a DDL script into complete statements (executescript would commit on its own)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return [s for s in out if s.strip(" ;\n")]
