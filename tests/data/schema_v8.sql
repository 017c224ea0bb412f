-- A version-8 gateway store, captured from the code at commit 7867e56: the version-7 store
-- (schema_v7.sql) opened by that commit's gateway.store, which migrated it, then two more
-- parcels of st1 written with reconciliation queued (two rows in verdict_queue, not judged
-- yet), dumped with sqlite3.Connection.iterdump(). Do not edit: it stands for the files
-- that version of the gateway left behind.
PRAGMA auto_vacuum = 2;
PRAGMA journal_mode = wal;
BEGIN TRANSACTION;
CREATE TABLE clearing_open (
        event_id TEXT PRIMARY KEY,
        station TEXT NOT NULL,
        dock TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,              -- the parcel's capture time: the desk's order
        received_ms INTEGER NOT NULL,
        images INTEGER NOT NULL              -- how many evidence images its event lists
    );
INSERT INTO "clearing_open" VALUES('01a24acc-08b1-7004-8fc9-4bd822d30153','st2','d2',1796551215281,1796551215281,2);
CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        station TEXT NOT NULL,
        action TEXT NOT NULL,                -- keyed, relabelled, returned_to_sorter
        code TEXT,                           -- as keyed, GS as 
        kind TEXT,
        check_ok INTEGER,
        tracking_id TEXT,                    -- normalised, as manifests are matched
        original_outcome TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        supersedes INTEGER
    );
INSERT INTO "corrections" VALUES(1,'01a24acc-08b1-7003-90c9-e305e40a9041','st2','relabelled',NULL,NULL,NULL,NULL,'NO_READ','','ann',1796551216281,NULL);
CREATE TABLE "counters" (
        gateway TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (gateway, name)
    );
INSERT INTO "counters" VALUES('','batches_total',2.0);
INSERT INTO "counters" VALUES('','dead_letters_total',1.0);
INSERT INTO "counters" VALUES('','events_ingested_total',7.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:+Inf',7.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:0.005',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:0.01',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:0.025',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:0.05',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:0.1',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:0.25',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:0.5',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:1',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:10',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:2.5',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_bucket:5',5.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_count',7.0);
INSERT INTO "counters" VALUES('','ingest_latency_seconds_sum',3593136440.521);
INSERT INTO "counters" VALUES('','heartbeat_ms',1796568220253.0);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    station TEXT,                -- from the topic when it parses
    payload BLOB NOT NULL,       -- truncated to gateway.dead_letter_payload_bytes
    payload_bytes INTEGER NOT NULL,
    reason TEXT NOT NULL
, digest TEXT, repeats INTEGER NOT NULL DEFAULT 1, last_ms INTEGER);
INSERT INTO "dead_letters" VALUES(1,1796551215281,'dockscan/v1/T1/st1/parcel','st1',X'5B31',2,'not an object','90d7460456a887f21247f93d0ba473cdb06fc1c53a399c85a2cfe34872a75edb',1,1796551215281);
CREATE TABLE evidence (
        event_id TEXT NOT NULL,
        idx INTEGER NOT NULL,                -- position in the event's images list
        station TEXT NOT NULL,               -- from the topic, which the broker's ACL vouches for
        received_ms INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        jpeg BLOB NOT NULL,
        PRIMARY KEY (event_id, idx)
    );
INSERT INTO "evidence" VALUES('01a24acc-08b1-7004-8fc9-4bd822d30153',0,'st2',1796551215281,3,X'FFD8FF');
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
INSERT INTO "hold_history" VALUES(1,'RR000000014CN','set','inspection','x-ray','root',1796551215208,'cli');
CREATE TABLE holds (
        tracking_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,                -- customs_referral, do_not_load, inspection,
                                             -- prohibitions_restrictions, damage
        note TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,                 -- who set it
        set_ms INTEGER NOT NULL,
        source TEXT NOT NULL                 -- cli, api, mqtt
    );
INSERT INTO "holds" VALUES('RR000000014CN','inspection','x-ray','root',1796551215208,'cli');
CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        since_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
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
INSERT INTO "manifest_imports" VALUES(1,'mawb:176-12345675',1796551214756,'m.csv','83c4fa59537548a7849ff58bae889c8a3abf18194b83c991c93932361be4c2a7',60,'csv',2,2,0,0,0,0);
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
INSERT INTO "manifest_lines" VALUES('mawb:176-12345675','RR123456785CN',2,'RR123456785CN','upu_s10',1.5,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,1,1796551214756,NULL);
INSERT INTO "manifest_lines" VALUES('mawb:176-12345675','RR000000014CN',3,'RR000000014CN','upu_s10',2.0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,1,1796551214756,NULL);
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
    , closed_by TEXT);
INSERT INTO "manifests" VALUES('mawb:176-12345675','mawb','176-12345675',NULL,NULL,NULL,'176-12345675',NULL,NULL,'open',1796551214756,1796551214756,'m.csv','83c4fa59537548a7849ff58bae889c8a3abf18194b83c991c93932361be4c2a7',NULL,NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','8');
CREATE TABLE outbound (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                  -- verdict, closeout
        station TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        published_ms INTEGER
    );
INSERT INTO "outbound" VALUES(1,'correction','st2','{"schema":"dockscan.correction/1","correction_id":1,"site":"T1","station":"st2","dock":"d2","event_id":"01a24acc-08b1-7003-90c9-e305e40a9041","parcel_ts":"2026-12-06T10:00:15.281Z","original_outcome":"NO_READ","original_codes":[],"action":"relabelled","code":null,"supersedes":null,"note":"","by":"ann","ts":"2026-12-06T10:00:16.281Z"}',1796551216281,NULL);
CREATE TABLE parcel_codes (
    event_id TEXT NOT NULL REFERENCES parcels (event_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    symbology TEXT NOT NULL,
    kind TEXT NOT NULL,
    check_ok INTEGER
);
INSERT INTO "parcel_codes" VALUES('01a24acc-08b1-7000-b4fc-33b23c458de6','RR123456785CN','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a24acc-08b1-7001-ad5d-273a9d06537b','RR000000014CN','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a24acc-08b1-7002-b244-0257df65410d','JJD000000000001','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a24bcf-825d-7000-9159-e8cf786cd466','RR000000028CN','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a24bcf-825d-7001-877b-d45d49174929','RR000000031CN','code128','unknown',NULL);
CREATE TABLE parcels (
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
INSERT INTO "parcels" VALUES('01a24acc-08b1-7000-b4fc-33b23c458de6','T1','st1','d1',1,1796551215281,1796551215281,1796551215284,'OK','RR123456785CN',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24acc-08b1-7000-b4fc-33b23c458de6","seq":1,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T10:00:15.281Z","outcome":"OK","barcodes":[{"text":"RR123456785CN","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a24acc-08b1-7001-ad5d-273a9d06537b','T1','st1','d1',2,1796551215281,1796551215281,1796551215284,'OK','RR000000014CN',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24acc-08b1-7001-ad5d-273a9d06537b","seq":2,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T10:00:15.281Z","outcome":"OK","barcodes":[{"text":"RR000000014CN","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a24acc-08b1-7002-b244-0257df65410d','T1','st2','d2',1,1796551215281,1796551215281,1796551215284,'OK','JJD000000000001',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24acc-08b1-7002-b244-0257df65410d","seq":1,"site":"T1","dock":"d2","station":"st2","ts":"2026-12-06T10:00:15.281Z","outcome":"OK","barcodes":[{"text":"JJD000000000001","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a24acc-08b1-7003-90c9-e305e40a9041','T1','st2','d2',2,1796551215281,1796551215281,1796551215284,'NO_READ',NULL,1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24acc-08b1-7003-90c9-e305e40a9041","seq":2,"site":"T1","dock":"d2","station":"st2","ts":"2026-12-06T10:00:15.281Z","outcome":"NO_READ","barcodes":[],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a24acc-08b1-7004-8fc9-4bd822d30153','T1','st2','d2',3,1796551215281,1796551215281,1796551215284,'NO_READ',NULL,1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24acc-08b1-7004-8fc9-4bd822d30153","seq":3,"site":"T1","dock":"d2","station":"st2","ts":"2026-12-06T10:00:15.281Z","outcome":"NO_READ","barcodes":[],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":["a.jpg","b.jpg"],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a24bcf-825d-7000-9159-e8cf786cd466','T1','st1','d1',3,1796568220253,0,1796568220253,'OK','RR000000028CN',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24bcf-825d-7000-9159-e8cf786cd466","seq":3,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T14:43:40.253Z","outcome":"OK","barcodes":[{"text":"RR000000028CN","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a24bcf-825d-7001-877b-d45d49174929','T1','st1','d1',4,1796568220253,0,1796568220253,'OK','RR000000031CN',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24bcf-825d-7001-877b-d45d49174929","seq":4,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T14:43:40.253Z","outcome":"OK","barcodes":[{"text":"RR000000031CN","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
CREATE TABLE station_events (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    kind TEXT NOT NULL,          -- state, device, seq_gap
    device TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    start_ms INTEGER NOT NULL,
    end_ms INTEGER               -- NULL while open
);
CREATE TABLE stations (
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
, seq_checked INTEGER);
INSERT INTO "stations" VALUES('st1','T1','d1','unknown',0,NULL,1796551215281,1796568220253,NULL,NULL,NULL,NULL,NULL,'{}','{}',4,0,NULL);
INSERT INTO "stations" VALUES('st2','T1','d2','unknown',0,NULL,1796551215281,1796551215281,NULL,NULL,NULL,NULL,NULL,'{}','{}',3,0,NULL);
CREATE TABLE verdict_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        tracking_id TEXT NOT NULL,           -- normalised, as verdicts.tracking_id
        station TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,              -- the parcel's capture time
        measured_kg REAL                     -- its stable weight (NULL: none)
    );
INSERT INTO "verdict_queue" VALUES(3,'01a24bcf-825d-7000-9159-e8cf786cd466','RR000000028CN','st1',1796568220253,1.25);
INSERT INTO "verdict_queue" VALUES(4,'01a24bcf-825d-7001-877b-d45d49174929','RR000000031CN','st1',1796568220253,1.25);
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
INSERT INTO "verdicts" VALUES('01a24acc-08b1-7000-b4fc-33b23c458de6','RR123456785CN','st1',1796551215281,'MATCHED','WEIGHT_UNDER','mawb:176-12345675',1.5,1.25,-0.25,0.22,NULL,NULL,0,1796551215284);
INSERT INTO "verdicts" VALUES('01a24acc-08b1-7001-ad5d-273a9d06537b','RR000000014CN','st1',1796551215281,'MATCHED','WEIGHT_UNDER','mawb:176-12345675',2.0,1.25,-0.75,0.22,'inspection',NULL,0,1796551215284);
CREATE INDEX parcels_station_ts ON parcels (station, ts_ms);
CREATE INDEX parcels_ts ON parcels (ts_ms);
CREATE INDEX parcels_outcome_ts ON parcels (outcome, ts_ms);
CREATE INDEX parcel_codes_text ON parcel_codes (text);
CREATE INDEX parcel_codes_event ON parcel_codes (event_id);
CREATE INDEX station_events_station ON station_events (station, start_ms);
CREATE INDEX station_events_open ON station_events (station, device, end_ms);
CREATE INDEX dead_letters_received ON dead_letters (received_ms);
CREATE INDEX dead_letters_station ON dead_letters (station, received_ms);
CREATE INDEX station_events_kind ON station_events (kind, start_ms);
CREATE UNIQUE INDEX dead_letters_digest ON dead_letters (digest);
CREATE INDEX dead_letters_last ON dead_letters (last_ms);
CREATE INDEX parcels_station_seq ON parcels (station, seq, received_ms, ts_ms);
CREATE INDEX manifests_kind_reference ON manifests (kind, reference);
CREATE INDEX manifest_imports_manifest ON manifest_imports (manifest_id, imported_ms);
CREATE INDEX manifest_lines_tracking
        ON manifest_lines (tracking_id, removed_ms, manifest_id, declared_kg);
CREATE INDEX manifest_line_history_line
        ON manifest_line_history (manifest_id, tracking_id, changed_ms);
CREATE INDEX verdicts_tracking ON verdicts (tracking_id, ts_ms);
CREATE INDEX verdicts_discrepant ON verdicts (ts_ms) WHERE match IN ('UNEXPECTED', 'DUPLICATE')
        OR weight IN ('WEIGHT_OVER', 'WEIGHT_UNDER');
CREATE INDEX hold_history_tracking ON hold_history (tracking_id, at_ms);
CREATE INDEX outbound_pending ON outbound (published_ms, id);
CREATE INDEX evidence_received ON evidence (received_ms);
CREATE INDEX corrections_event ON corrections (event_id, id);
CREATE INDEX corrections_created ON corrections (created_ms);
CREATE INDEX clearing_open_ts ON clearing_open (ts_ms, event_id);
CREATE INDEX clearing_open_dock ON clearing_open (dock, ts_ms, event_id);
CREATE INDEX clearing_open_station ON clearing_open (station);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('verdict_queue',4);
COMMIT;
PRAGMA user_version = 8;
