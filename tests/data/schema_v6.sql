-- A version-6 gateway store, captured from the code at commit 48312a7a0a86e93a7c61b50bf452bf7e1a37682b:
--   git archive 48312a7a0a86e93a7c61b50bf452bf7e1a37682b | tar -x -C OLD; cd OLD; PYTHONPATH=. python capture.py 6 ...
-- Schema and rows were written by that commit's gateway.store and gateway.schema, then dumped
-- with sqlite3.Connection.iterdump(); capture.py is in the message of the commit that added
-- this file. Do not edit: it stands for the files that version of the gateway left behind.
PRAGMA auto_vacuum = 2;
PRAGMA journal_mode = wal;
BEGIN TRANSACTION;
CREATE TABLE "counters" (
        gateway TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (gateway, name)
    );
INSERT INTO "counters" VALUES('gw-1','batches_total',2.0);
INSERT INTO "counters" VALUES('gw-1','dead_letters_total',1.0);
INSERT INTO "counters" VALUES('gw-1','events_ingested_total',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:+Inf',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:0.005',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:0.01',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:0.025',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:0.05',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:0.1',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:0.25',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:0.5',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:1',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:10',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:2.5',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_bucket:5',6.0);
INSERT INTO "counters" VALUES('gw-1','ingest_latency_seconds_count',6.0);
INSERT INTO "counters" VALUES('gw-1','heartbeat_ms',1796540570896.0);
INSERT INTO "counters" VALUES('gw-1','dead_letters_repeated_total',1.0);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    station TEXT,                -- from the topic when it parses
    payload BLOB NOT NULL,       -- truncated to gateway.dead_letter_payload_bytes
    payload_bytes INTEGER NOT NULL,
    reason TEXT NOT NULL
, digest TEXT, repeats INTEGER NOT NULL DEFAULT 1, last_ms INTEGER);
INSERT INTO "dead_letters" VALUES(1,1796540570889,'dockscan/v1/T1/st1/parcel','st1',X'7B22736368656D61223A22646F636B7363616E2E70617263656C2F3122',29,'bad JSON: truncated','9e928d4351af258335a7d99f883f7284ba2b6ddd7b924205d71605d9cd06e123',2,1796540570889);
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
INSERT INTO "hold_history" VALUES(1,'RR400000015CN','set','customs_referral','x-ray','capture',1796540570885,'cli');
CREATE TABLE holds (
        tracking_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,                -- customs_referral, do_not_load, inspection,
                                             -- prohibitions_restrictions, damage
        note TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,                 -- who set it
        set_ms INTEGER NOT NULL,
        source TEXT NOT NULL                 -- cli, api, mqtt
    );
INSERT INTO "holds" VALUES('RR400000015CN','customs_referral','x-ray','capture',1796540570885,'cli');
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
INSERT INTO "manifest_imports" VALUES(1,'mawb:176-12345675',1796540570877,'m.csv','39e6a5e6ea04fd52b964d3fc939f6818caf9882abe19d9221df3826aff57a8e8',91,'csv',3,3,0,0,0,0);
INSERT INTO "manifest_imports" VALUES(2,'flight:LH8400/2026-12-01',1796540570883,'f.csv','18712496ec065a3ed15ffca735c6ae0358dfeb697000b35f54574873ed46a7cc',42,'csv',1,1,0,0,0,0);
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
INSERT INTO "manifest_lines" VALUES('mawb:176-12345675','RR400000001CN',2,'RR400000001CN','upu_s10',1.0,NULL,'B0',NULL,NULL,NULL,NULL,NULL,NULL,1,1796540570877,NULL);
INSERT INTO "manifest_lines" VALUES('mawb:176-12345675','RR400000015CN',3,'RR400000015CN','upu_s10',2.0,NULL,'B1',NULL,NULL,NULL,NULL,NULL,NULL,1,1796540570877,NULL);
INSERT INTO "manifest_lines" VALUES('mawb:176-12345675','RR400000029CN',4,'RR400000029CN','upu_s10',3.0,NULL,'B0',NULL,NULL,NULL,NULL,NULL,NULL,1,1796540570877,NULL);
INSERT INTO "manifest_lines" VALUES('flight:LH8400/2026-12-01','RR400000032CN',2,'RR400000032CN','upu_s10',2.0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,2,1796540570883,NULL);
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
INSERT INTO "manifests" VALUES('mawb:176-12345675','mawb','176-12345675',NULL,NULL,NULL,'176-12345675',NULL,NULL,'open',1796540570877,1796540570877,'m.csv','39e6a5e6ea04fd52b964d3fc939f6818caf9882abe19d9221df3826aff57a8e8',NULL,NULL);
INSERT INTO "manifests" VALUES('flight:LH8400/2026-12-01','flight','LH8400/2026-12-01','LH','LH8400','2026-12-01',NULL,NULL,NULL,'closed',1796540570883,1796540570900,'f.csv','18712496ec065a3ed15ffca735c6ae0358dfeb697000b35f54574873ed46a7cc',1796540570900,'capture');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','6');
CREATE TABLE outbound (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                  -- verdict, closeout
        station TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        published_ms INTEGER
    );
INSERT INTO "outbound" VALUES(1,'closeout','','{"schema":"dockscan.closeout/1","site":"T1","manifest_id":"flight:LH8400/2026-12-01","kind":"flight","reference":"LH8400/2026-12-01","closed":"2026-12-06T07:02:50.900Z","closed_by":"capture","expected":1,"seen":1,"missing":0,"unexpected":1,"weight_over":0,"weight_under":0,"holds_seen":0,"missing_ids":[],"missing_truncated":false,"report_path":"/api/v1/manifests/flight:LH8400/2026-12-01/report"}',1796540570900,NULL);
CREATE TABLE parcel_codes (
    event_id TEXT NOT NULL REFERENCES parcels (event_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    symbology TEXT NOT NULL,
    kind TEXT NOT NULL,
    check_ok INTEGER
);
INSERT INTO "parcel_codes" VALUES('01a24a29-9d08-7000-8073-6146caef16f6','RR400000001CN','code128','upu_s10',1);
INSERT INTO "parcel_codes" VALUES('01a24a29-9d08-7001-b557-76943244689e','RR400000015CN','code128','upu_s10',1);
INSERT INTO "parcel_codes" VALUES('01a24a29-9d08-7002-8bfe-1efbb9371f17','RR400000094CN','code128','upu_s10',1);
INSERT INTO "parcel_codes" VALUES('01a24a29-9d08-7003-a5fa-6bf414064b13','JJD000000000003','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a24a29-9d08-7004-ba3c-ef296d8e2296','RR400000001CN','code128','upu_s10',1);
INSERT INTO "parcel_codes" VALUES('01a24a29-9d08-7005-89fc-63000dc508af','RR400000032CN','code128','upu_s10',1);
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
INSERT INTO "parcels" VALUES('01a24a29-9d08-7000-8073-6146caef16f6','T1','st1','d1',0,1796540570888,1796540570889,1796540570889,'OK','RR400000001CN',1.0,'','{"schema":"dockscan.parcel/1","event_id":"01a24a29-9d08-7000-8073-6146caef16f6","seq":0,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T07:02:50.888Z","outcome":"OK","barcodes":[{"text":"RR400000001CN","symbology":"code128","source":"cam","kind":"upu_s10","check_ok":true}],"weight":{"value":1.0,"unit":"kg","device_value":"1.000","device_unit":"kg","stable":true,"raw":"","device":"scale"},"flags":[],"images":[],"agent_version":"capture"}');
INSERT INTO "parcels" VALUES('01a24a29-9d08-7001-b557-76943244689e','T1','st1','d1',1,1796540570889,1796540570889,1796540570889,'OK','RR400000015CN',3.5,'','{"schema":"dockscan.parcel/1","event_id":"01a24a29-9d08-7001-b557-76943244689e","seq":1,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T07:02:50.889Z","outcome":"OK","barcodes":[{"text":"RR400000015CN","symbology":"code128","source":"cam","kind":"upu_s10","check_ok":true}],"weight":{"value":3.5,"unit":"kg","device_value":"3.500","device_unit":"kg","stable":true,"raw":"","device":"scale"},"flags":[],"images":[],"agent_version":"capture"}');
INSERT INTO "parcels" VALUES('01a24a29-9d08-7002-8bfe-1efbb9371f17','T1','st1','d1',2,1796540570890,1796540570889,1796540570889,'OK','RR400000094CN',1.0,'','{"schema":"dockscan.parcel/1","event_id":"01a24a29-9d08-7002-8bfe-1efbb9371f17","seq":2,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T07:02:50.890Z","outcome":"OK","barcodes":[{"text":"RR400000094CN","symbology":"code128","source":"cam","kind":"upu_s10","check_ok":true}],"weight":{"value":1.0,"unit":"kg","device_value":"1.000","device_unit":"kg","stable":true,"raw":"","device":"scale"},"flags":[],"images":[],"agent_version":"capture"}');
INSERT INTO "parcels" VALUES('01a24a29-9d08-7003-a5fa-6bf414064b13','T1','st1','d1',3,1796540570891,1796540570889,1796540570889,'OK','JJD000000000003',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a24a29-9d08-7003-a5fa-6bf414064b13","seq":3,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-06T07:02:50.891Z","outcome":"OK","barcodes":[{"text":"JJD000000000003","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"","device":"scale"},"flags":[],"images":[],"agent_version":"capture"}');
INSERT INTO "parcels" VALUES('01a24a29-9d08-7004-ba3c-ef296d8e2296','T1','st2','d2',0,1796540570888,1796540570889,1796540570889,'OK','RR400000001CN',1.0,'','{"schema":"dockscan.parcel/1","event_id":"01a24a29-9d08-7004-ba3c-ef296d8e2296","seq":0,"site":"T1","dock":"d2","station":"st2","ts":"2026-12-06T07:02:50.888Z","outcome":"OK","barcodes":[{"text":"RR400000001CN","symbology":"code128","source":"cam","kind":"upu_s10","check_ok":true}],"weight":{"value":1.0,"unit":"kg","device_value":"1.000","device_unit":"kg","stable":true,"raw":"","device":"scale"},"flags":[],"images":[],"agent_version":"capture"}');
INSERT INTO "parcels" VALUES('01a24a29-9d08-7005-89fc-63000dc508af','T1','st2','d2',1,1796540570889,1796540570889,1796540570889,'OK','RR400000032CN',2.0,'','{"schema":"dockscan.parcel/1","event_id":"01a24a29-9d08-7005-89fc-63000dc508af","seq":1,"site":"T1","dock":"d2","station":"st2","ts":"2026-12-06T07:02:50.889Z","outcome":"OK","barcodes":[{"text":"RR400000032CN","symbology":"code128","source":"cam","kind":"upu_s10","check_ok":true}],"weight":{"value":2.0,"unit":"kg","device_value":"2.000","device_unit":"kg","stable":true,"raw":"","device":"scale"},"flags":[],"images":[],"agent_version":"capture"}');
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
INSERT INTO "stations" VALUES('st1','T1','d1','unknown',0,NULL,1796540570889,1796540570891,NULL,NULL,NULL,NULL,NULL,'{}','{}',3,0,NULL);
INSERT INTO "stations" VALUES('st2','T1','d2','unknown',0,NULL,1796540570889,1796540570889,NULL,NULL,NULL,NULL,NULL,'{}','{}',1,0,NULL);
INSERT INTO "stations" VALUES('st3','T1','d3','unknown',0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{}','{}',NULL,0,NULL);
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
INSERT INTO "verdicts" VALUES('01a24a29-9d08-7000-8073-6146caef16f6','RR400000001CN','st1',1796540570888,'MATCHED','WEIGHT_OK','mawb:176-12345675',1.0,1.0,0.0,0.22,NULL,NULL,0,1796540570889);
INSERT INTO "verdicts" VALUES('01a24a29-9d08-7001-b557-76943244689e','RR400000015CN','st1',1796540570889,'MATCHED','WEIGHT_OVER','mawb:176-12345675',2.0,3.5,1.5,0.22,'customs_referral',NULL,0,1796540570889);
INSERT INTO "verdicts" VALUES('01a24a29-9d08-7002-8bfe-1efbb9371f17','RR400000094CN','st1',1796540570890,'UNEXPECTED','NO_DECLARATION',NULL,NULL,1.0,NULL,NULL,NULL,NULL,0,1796540570889);
INSERT INTO "verdicts" VALUES('01a24a29-9d08-7004-ba3c-ef296d8e2296','RR400000001CN','st2',1796540570888,'DUPLICATE','WEIGHT_OK','mawb:176-12345675',1.0,1.0,0.0,0.22,NULL,'01a24a29-9d08-7000-8073-6146caef16f6',0,1796540570889);
INSERT INTO "verdicts" VALUES('01a24a29-9d08-7005-89fc-63000dc508af','RR400000032CN','st2',1796540570889,'MATCHED','WEIGHT_OK','flight:LH8400/2026-12-01',2.0,2.0,0.0,0.22,NULL,NULL,0,1796540570889);
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
COMMIT;
PRAGMA user_version = 6;
