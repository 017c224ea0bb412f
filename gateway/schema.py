"""The gateway's SQLite schema: the version-1 tables, later migrations, and how to apply them.

PostgreSQL stores are created at the current version by gateway/db/pg_schema.py; a migration
added here needs its PostgreSQL twin there.
"""

import sqlite3

from dockscan.errors import StoreError

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
    6: """
    -- Manifests: the parcels expected on one inbound unit (a flight, a master air waybill, a
    -- ULD or a bag), imported from carrier files (gateway/manifests/). One row per expected
    -- parcel, keyed by its normalised tracking id (dockscan.codes.tracking_id, the same key a
    -- scan of the label gives); a corrected file updates lines and keeps the values it replaced
    -- in manifest_line_history. Every import run is kept in manifest_imports.
    CREATE TABLE manifests (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,                  -- flight, mawb, uld, bag
        reference TEXT NOT NULL,             -- the unit's id: the MAWB, ULD, bag, or flight+date
        carrier TEXT,
        flight TEXT,
        flight_date TEXT,                    -- YYYY-MM-DD
        mawb TEXT,                           -- NNN-NNNNNNNN, check digit verified
        uld TEXT,
        bag TEXT,
        state TEXT NOT NULL DEFAULT 'open',  -- open, closed
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        source_name TEXT NOT NULL DEFAULT '', -- file name of the last import
        sha256 TEXT NOT NULL DEFAULT '',      -- of the last imported file
        closed_ms INTEGER
    );
    CREATE INDEX manifests_kind_reference ON manifests (kind, reference);
    CREATE TABLE manifest_imports (
        id INTEGER PRIMARY KEY,
        manifest_id TEXT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
        imported_ms INTEGER NOT NULL,
        source_name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        format TEXT NOT NULL,                -- csv, jsonl
        lines INTEGER NOT NULL,              -- data lines read
        inserted INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        removed INTEGER NOT NULL,            -- lines earlier imports had and this file lacks
        rejected INTEGER NOT NULL
    );
    CREATE INDEX manifest_imports_manifest ON manifest_imports (manifest_id, imported_ms);
    CREATE TABLE manifest_lines (
        manifest_id TEXT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
        tracking_id TEXT NOT NULL,           -- normalised
        line_no INTEGER NOT NULL,            -- in the file last imported
        tracking_raw TEXT NOT NULL,          -- as the file had it
        tracking_kind TEXT NOT NULL,         -- upu_s10, sscc, ups_1z, carrier:NAME, unknown
        declared_kg REAL,
        hawb TEXT,
        bag TEXT,
        declared_value TEXT,                 -- decimal text, exact
        currency TEXT,                       -- ISO 4217
        ioss TEXT,                           -- IM + 10 digits
        country TEXT,                        -- ISO 3166-1 alpha-2 destination
        hs_code TEXT,
        description TEXT,
        import_id INTEGER NOT NULL,          -- the last import that listed the line
        updated_ms INTEGER NOT NULL,
        removed_ms INTEGER,                  -- set when a later file no longer lists it
        PRIMARY KEY (manifest_id, tracking_id)
    );
    -- Covering what a verdict reads of a line, so judging a parcel never visits the table.
    CREATE INDEX manifest_lines_tracking
        ON manifest_lines (tracking_id, removed_ms, manifest_id, declared_kg);
    CREATE TABLE manifest_line_history (
        id INTEGER PRIMARY KEY,
        manifest_id TEXT NOT NULL,
        tracking_id TEXT NOT NULL,
        import_id INTEGER NOT NULL,          -- the import that replaced or removed these values
        changed_ms INTEGER NOT NULL,
        change TEXT NOT NULL,                -- updated, removed
        line_no INTEGER NOT NULL,
        tracking_raw TEXT NOT NULL,
        declared_kg REAL,
        hawb TEXT,
        bag TEXT,
        declared_value TEXT,
        currency TEXT,
        ioss TEXT,
        country TEXT,
        hs_code TEXT,
        description TEXT,
        updated_ms INTEGER NOT NULL          -- when the replaced values were written
    );
    CREATE INDEX manifest_line_history_line
        ON manifest_line_history (manifest_id, tracking_id, changed_ms);
    -- Reconciliation (gateway/reconcile/): one verdict per stored parcel that carries a usable
    -- code, decided when the parcel is stored and decided again when a manifest listing its
    -- tracking id is imported (revision + 1 each time the verdict changes). No foreign key:
    -- retention deletes a parcel's verdict with it, as it does its codes.
    CREATE TABLE verdicts (
        event_id TEXT PRIMARY KEY,
        tracking_id TEXT NOT NULL,           -- normalised, as manifest_lines.tracking_id
        station TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,              -- the parcel's capture time
        match TEXT NOT NULL,                 -- MATCHED, UNEXPECTED, DUPLICATE, NO_MANIFEST
        weight TEXT NOT NULL,                -- WEIGHT_OK, WEIGHT_OVER, WEIGHT_UNDER,
                                             -- NO_DECLARATION, NO_WEIGHT
        manifest_id TEXT,                    -- the open manifest whose line it matched
        declared_kg REAL,
        measured_kg REAL,
        delta_kg REAL,                       -- measured - declared
        tolerance_kg REAL,
        hold TEXT,                           -- hold reason when its id was held at the time
        first_event_id TEXT,                 -- DUPLICATE: the first sighting of the id
        revision INTEGER NOT NULL DEFAULT 0,
        decided_ms INTEGER NOT NULL
    );
    CREATE INDEX verdicts_tracking ON verdicts (tracking_id, ts_ms);
    -- Only the discrepancy queue's rows (a few percent) are indexed by time.
    CREATE INDEX verdicts_discrepant ON verdicts (ts_ms) WHERE match IN ('UNEXPECTED', 'DUPLICATE')
        OR weight IN ('WEIGHT_OVER', 'WEIGHT_UNDER');
    -- Customs holds on tracking ids: the current ones, and every set and release.
    CREATE TABLE holds (
        tracking_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,                -- customs_referral, do_not_load, inspection,
                                             -- prohibitions_restrictions, damage
        note TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,                 -- who set it
        set_ms INTEGER NOT NULL,
        source TEXT NOT NULL                 -- cli, api, mqtt
    );
    CREATE TABLE hold_history (
        id INTEGER PRIMARY KEY,              -- max(id) is the hold list's version
        tracking_id TEXT NOT NULL,
        action TEXT NOT NULL,                -- set, release
        reason TEXT,
        note TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX hold_history_tracking ON hold_history (tracking_id, at_ms);
    -- Messages for integrators written by any process (an import that re-reconciles, a
    -- close-out): the lease-holding gateway publishes them in id order, then sets published_ms.
    CREATE TABLE outbound (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                  -- verdict, closeout
        station TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        published_ms INTEGER
    );
    CREATE INDEX outbound_pending ON outbound (published_ms, id);
    ALTER TABLE manifests ADD COLUMN closed_by TEXT;
    """,
    7: """
    -- Parcels waiting for their verdict (gateway/reconcile/queue.py): the ingest adds a row per
    -- new parcel with a usable code in the parcel's own transaction; the reconciler process
    -- stores the verdicts and deletes the rows in one transaction, so a SIGKILL anywhere loses
    -- no verdict and decides none twice. Only the id is indexed: rows are read in id order. An
    -- id is never used twice (AUTOINCREMENT): a reconciler deletes the rows it read by id.
    CREATE TABLE verdict_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        tracking_id TEXT NOT NULL,           -- normalised, as verdicts.tracking_id
        station TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,              -- the parcel's capture time
        measured_kg REAL                     -- its stable weight (NULL: none)
    );
    -- Evidence JPEGs of parcels a station could not read, as it sent them; an image may come
    -- before its parcel. Bounded by [clearing] evidence_max_mb and evidence_days.
    CREATE TABLE evidence (
        event_id TEXT NOT NULL,
        idx INTEGER NOT NULL,                -- position in the event's images list
        station TEXT NOT NULL,               -- from the topic, which the broker's ACL vouches for
        received_ms INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        jpeg BLOB NOT NULL,
        PRIMARY KEY (event_id, idx)
    );
    CREATE INDEX evidence_received ON evidence (received_ms);
    -- A clerk's resolutions of unread parcels (the parcel row is never changed); the newest of
    -- a parcel is in force, the earlier ones stay as its history.
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        station TEXT NOT NULL,
        action TEXT NOT NULL,                -- keyed, relabelled, returned_to_sorter
        code TEXT,                           -- as keyed, GS as \x1d
        kind TEXT,
        check_ok INTEGER,
        tracking_id TEXT,                    -- normalised, as manifests are matched
        original_outcome TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        supersedes INTEGER
    );
    CREATE INDEX corrections_event ON corrections (event_id, id);
    CREATE INDEX corrections_created ON corrections (created_ms);
    -- The clearing queue: unread parcels by time (a few percent of all parcels).
    CREATE INDEX parcels_unread ON parcels (ts_ms)
        WHERE outcome IN ('NO_READ', 'MULTI_READ', 'INVALID_CODE');
    """,
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
