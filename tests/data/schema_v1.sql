-- A version-1 gateway store, captured from the code at commit eb78670a80e4973f7892517479e3ec24824331a3:
--   git archive eb78670a80e4973f7892517479e3ec24824331a3 | tar -x -C OLD; cd OLD; PYTHONPATH=. python capture.py 1 ...
-- Schema and rows were written by that commit's gateway.store and gateway.schema, then dumped
-- with sqlite3.Connection.iterdump(); capture.py is in the message of the commit that added
-- this file. Do not edit: it stands for the files that version of the gateway left behind.
-- No store code existed at version 1 (the first Store came with version 2): this is
-- that commit's DDL run on an empty file, no user_version, rows by plain INSERTs with
-- payloads from that commit's contract models.
BEGIN TRANSACTION;
CREATE TABLE counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
INSERT INTO "counters" VALUES('events_ingested_total',2.0);
INSERT INTO "counters" VALUES('dead_letters_total',1.0);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    station TEXT,                -- from the topic when it parses
    payload BLOB NOT NULL,       -- truncated to gateway.dead_letter_payload_bytes
    payload_bytes INTEGER NOT NULL,
    reason TEXT NOT NULL
);
INSERT INTO "dead_letters" VALUES(1,1795780803000,'dockscan/v1/T1/st1/parcel','st1',X'7B6E6F7420697420',8,'bad JSON: unexpected end of data');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE parcel_codes (
    event_id TEXT NOT NULL REFERENCES parcels (event_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    symbology TEXT NOT NULL,
    kind TEXT NOT NULL,
    check_ok INTEGER
);
INSERT INTO "parcel_codes" VALUES('0193f1a0-0000-7000-8000-000000000001','JJD000000000000','code128','unknown',NULL);
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
INSERT INTO "parcels" VALUES('0193f1a0-0000-7000-8000-000000000001','T1','st1','d1',0,1795780800000,1795780800050,1795780800060,'OK','JJD000000000000',1.25,'','{"schema":"dockscan.parcel/1","event_id":"0193f1a0-0000-7000-8000-000000000001","seq":0,"site":"T1","dock":"d1","station":"st1","ts":"2026-11-27T12:00:00.000Z","outcome":"OK","barcodes":[{"text":"JJD000000000000","symbology":"code128","source":"cam","kind":"unknown","check_ok":null}],"weight":{"value":1.25,"unit":"kg","device_value":"1.250","device_unit":"kg","stable":true,"raw":"S S 1.250 kg","device":"scale"},"flags":[],"images":[],"agent_version":"0.1.0"}');
INSERT INTO "parcels" VALUES('0193f1a0-0000-7000-8000-000000000002','T1','st1','d1',1,1795780801000,1795780801050,1795780801060,'NO_READ',NULL,NULL,'no_read','{"schema":"dockscan.parcel/1","event_id":"0193f1a0-0000-7000-8000-000000000002","seq":1,"site":"T1","dock":"d1","station":"st1","ts":"2026-11-27T12:00:01.000Z","outcome":"NO_READ","barcodes":[],"weight":null,"flags":["no_read"],"images":[],"agent_version":"0.1.0"}');
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
INSERT INTO "station_events" VALUES(1,'st1','state','','online','',1795780800000,NULL);
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
    last_seq INTEGER,
    seq_gaps INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "stations" VALUES('st1','T1','d1','online',3,1795780800000,1795780802000,1795780801000,NULL,NULL,NULL,NULL,NULL,'{}','{}',1,0);
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
COMMIT;
