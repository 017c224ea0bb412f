"""The SQLite migrations of the hub's tables: manifests, verdicts, holds, the clearing desk."""

HUB_MIGRATIONS = {
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
    8: """
    -- Unread parcels no clerk has resolved yet (gateway/clearing/backlog.py). The clearing
    -- desk, the board's "To clear" and /metrics read this small table, not every unread parcel
    -- ever stored. The ingest adds a row in the parcel's transaction, the first correction
    -- deletes it in its own, retention deletes it with the parcel.
    CREATE TABLE clearing_open (
        event_id TEXT PRIMARY KEY,
        station TEXT NOT NULL,
        dock TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,              -- the parcel's capture time: the desk's order
        received_ms INTEGER NOT NULL,
        images INTEGER NOT NULL              -- how many evidence images its event lists
    );
    CREATE INDEX clearing_open_ts ON clearing_open (ts_ms, event_id);
    CREATE INDEX clearing_open_dock ON clearing_open (dock, ts_ms, event_id);
    CREATE INDEX clearing_open_station ON clearing_open (station);
    INSERT INTO clearing_open (event_id, station, dock, ts_ms, received_ms, images)
        SELECT p.event_id, p.station, p.dock, p.ts_ms, p.received_ms,
            CASE WHEN json_valid(p.payload)
                THEN coalesce(json_array_length(p.payload, '$.images'), 0) ELSE 0 END
        FROM parcels p WHERE p.outcome IN ('NO_READ', 'MULTI_READ', 'INVALID_CODE')
        AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.event_id = p.event_id);
    DROP INDEX parcels_unread;
    """,
    9: """
    -- The verdict queue holds one row per ingest batch instead of one per parcel: the batch's
    -- sightings as one JSON array of [event id, tracking id, station, capture ms, stable kg],
    -- and how many there are. The ingest writes one row in the batch's transaction; the
    -- reconciler deletes it in the transaction that stores its verdicts (a SIGKILL anywhere
    -- still loses no verdict and decides none twice). Queued parcels move over as one row.
    CREATE TABLE verdict_batches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        parcels INTEGER NOT NULL,
        sightings TEXT NOT NULL
    );
    INSERT INTO verdict_batches (parcels, sightings)
        SELECT count(*), json_group_array(json_array(event_id, tracking_id, station, ts_ms,
            measured_kg)) FROM (SELECT * FROM verdict_queue ORDER BY id) HAVING count(*) > 0;
    DROP TABLE verdict_queue;
    ALTER TABLE verdict_batches RENAME TO verdict_queue;
    """,
}
