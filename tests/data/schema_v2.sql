-- A version-2 gateway store, captured from the code at commit 7a2f0eecef617d1e6b2971dec305b01056da32ee:
--   git archive 7a2f0eecef617d1e6b2971dec305b01056da32ee | tar -x -C OLD; cd OLD; PYTHONPATH=. python capture.py 2 ...
-- Schema and rows were written by that commit's gateway.store and gateway.schema, then dumped
-- with sqlite3.Connection.iterdump(); capture.py is in the message of the commit that added
-- this file. Do not edit: it stands for the files that version of the gateway left behind.
PRAGMA auto_vacuum = 2;
PRAGMA journal_mode = wal;
BEGIN TRANSACTION;
CREATE TABLE counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
INSERT INTO "counters" VALUES('events_ingested_total',6.0);
INSERT INTO "counters" VALUES('dead_letters_total',1.0);
INSERT INTO "counters" VALUES('batches_total',1.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_sum',0.006);
INSERT INTO "counters" VALUES('ingest_latency_seconds_count',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:0.005',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:0.01',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:0.025',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:0.05',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:0.1',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:0.25',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:0.5',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:1',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:2.5',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:5',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:10',6.0);
INSERT INTO "counters" VALUES('ingest_latency_seconds_bucket:+Inf',6.0);
INSERT INTO "counters" VALUES('heartbeat_ms',1796237516100.0);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    station TEXT,                -- from the topic when it parses
    payload BLOB NOT NULL,       -- truncated to gateway.dead_letter_payload_bytes
    payload_bytes INTEGER NOT NULL,
    reason TEXT NOT NULL
);
INSERT INTO "dead_letters" VALUES(1,1796237516099,'dockscan/v1/T1/st1/parcel','st1',X'7B22736368656D61223A22646F636B7363616E2E70617263656C2F3122',29,'bad JSON: truncated');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','2');
CREATE TABLE parcel_codes (
    event_id TEXT NOT NULL REFERENCES parcels (event_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    symbology TEXT NOT NULL,
    kind TEXT NOT NULL,
    check_ok INTEGER
);
INSERT INTO "parcel_codes" VALUES('01a23819-5d43-7000-97df-d1ed57a46bf9','JJD000000000000','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a23819-5d43-7001-84ac-8b465d84a3a4','JJD000000000001','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a23819-5d43-7002-bf9f-33dedfdbc460','JJD000000000002','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a23819-5d43-7003-afd8-72ef9e96c3df','JJD000000000003','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a23819-5d43-7004-b6ad-5a91cf83a3ba','JJD000000000000','code128','unknown',NULL);
INSERT INTO "parcel_codes" VALUES('01a23819-5d43-7005-8de8-01fd44396448','JJD000000000001','code128','unknown',NULL);
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
INSERT INTO "parcels" VALUES('01a23819-5d43-7000-97df-d1ed57a46bf9','T1','st1','d1',0,1796237516099,1796237516099,1796237516100,'OK','JJD000000000000',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a23819-5d43-7000-97df-d1ed57a46bf9","seq":0,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-02T18:51:56.099Z","outcome":"OK","barcodes":[{"text":"JJD000000000000","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a23819-5d43-7001-84ac-8b465d84a3a4','T1','st1','d1',1,1796237516099,1796237516099,1796237516100,'OK','JJD000000000001',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a23819-5d43-7001-84ac-8b465d84a3a4","seq":1,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-02T18:51:56.099Z","outcome":"OK","barcodes":[{"text":"JJD000000000001","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a23819-5d43-7002-bf9f-33dedfdbc460','T1','st1','d1',2,1796237516099,1796237516099,1796237516100,'OK','JJD000000000002',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a23819-5d43-7002-bf9f-33dedfdbc460","seq":2,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-02T18:51:56.099Z","outcome":"OK","barcodes":[{"text":"JJD000000000002","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a23819-5d43-7003-afd8-72ef9e96c3df','T1','st1','d1',3,1796237516099,1796237516099,1796237516100,'OK','JJD000000000003',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a23819-5d43-7003-afd8-72ef9e96c3df","seq":3,"site":"T1","dock":"d1","station":"st1","ts":"2026-12-02T18:51:56.099Z","outcome":"OK","barcodes":[{"text":"JJD000000000003","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a23819-5d43-7004-b6ad-5a91cf83a3ba','T1','st2','d2',0,1796237516099,1796237516099,1796237516100,'OK','JJD000000000000',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a23819-5d43-7004-b6ad-5a91cf83a3ba","seq":0,"site":"T1","dock":"d2","station":"st2","ts":"2026-12-02T18:51:56.099Z","outcome":"OK","barcodes":[{"text":"JJD000000000000","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
INSERT INTO "parcels" VALUES('01a23819-5d43-7005-8de8-01fd44396448','T1','st2','d2',1,1796237516099,1796237516099,1796237516100,'OK','JJD000000000001',1.25,'','{"schema":"dockscan.parcel/1","event_id":"01a23819-5d43-7005-8de8-01fd44396448","seq":1,"site":"T1","dock":"d2","station":"st2","ts":"2026-12-02T18:51:56.099Z","outcome":"OK","barcodes":[{"text":"JJD000000000001","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"test"}');
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
INSERT INTO "station_events" VALUES(1,'st1','state','','online','',1796237516099,NULL);
INSERT INTO "station_events" VALUES(2,'st1','device','scale','ok','',1796237516099,NULL);
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
INSERT INTO "stations" VALUES('st1','T1','d1','online',2,1796237516099,1796237516099,1796237516099,1796237516099,1.0,0,NULL,'0.1.0',X'7B227363616C65223A7B226B696E64223A227363616C65222C227374617465223A226F6B222C22726561736F6E223A22222C2273696E6365223A22323032362D31322D30325431383A35313A35362E3130305A227D7D',X'7B2270617263656C73223A347D',3,0,NULL);
INSERT INTO "stations" VALUES('st2','T1','d2','unknown',0,NULL,1796237516099,1796237516099,NULL,NULL,NULL,NULL,NULL,'{}','{}',1,0,NULL);
INSERT INTO "stations" VALUES('st3','T1','d3','unknown',0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'{}','{}',NULL,0,NULL);
CREATE INDEX parcels_station_ts ON parcels (station, ts_ms);
CREATE INDEX parcels_ts ON parcels (ts_ms);
CREATE INDEX parcels_outcome_ts ON parcels (outcome, ts_ms);
CREATE INDEX parcels_station_seq ON parcels (station, seq);
CREATE INDEX parcel_codes_text ON parcel_codes (text);
CREATE INDEX parcel_codes_event ON parcel_codes (event_id);
CREATE INDEX station_events_station ON station_events (station, start_ms);
CREATE INDEX station_events_open ON station_events (station, device, end_ms);
CREATE INDEX dead_letters_received ON dead_letters (received_ms);
CREATE INDEX dead_letters_station ON dead_letters (station, received_ms);
CREATE INDEX parcels_barcode ON parcels (barcode);
CREATE INDEX station_events_kind ON station_events (kind, start_ms);
COMMIT;
PRAGMA user_version = 2;
