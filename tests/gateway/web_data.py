"""Fill a real gateway store (SQLite or PostgreSQL) with realistic rows for the web tests.

Plain SQL through gateway.db.open_store's connection (`?` placeholders on both), no ingest:
rows written this way do not move the ingest's counters, as rows from any other writer.
"""

import json
from datetime import UTC, datetime
from typing import Any

from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.ids import uuid7
from gateway.db import open_store
from gateway.store import transaction as tx

HOSTILE = "<img src=x onerror=alert(1)>"
GS1_WITH_GS = "\x1d0100012345678905\x1d10LOT42"


def now_ms() -> int:
    """Return the current time in UTC epoch milliseconds."""
    return int(datetime.now(UTC).timestamp() * 1000)


def create_db(target: str) -> Any:
    """Create a gateway store (SQLite path or PostgreSQL URL) with the real schema, migrated."""
    return open_store(target)


def make_event(
    station: str,
    seq: int,
    ts_ms: int,
    *,
    dock: str = "D1",
    site: str = "hub",
    outcome: str = "OK",
    codes: tuple[str, ...] = ("RR123456785GB",),
    weight_kg: float | None = 2.345,
    images: tuple[str, ...] = (),
) -> ParcelEvent:
    """Build a valid ParcelEvent with a scanner/camera read and a raw scale frame."""
    barcodes = [
        Barcode(
            text=text,
            symbology="code128",
            source="cam1" if i else "scanner1",
            kind="upu_s10" if text.startswith("RR") else "unknown",
            check_ok=True if text.startswith("RR") else None,
        )
        for i, text in enumerate(codes)
    ]
    weight = None
    if weight_kg is not None:
        weight = Weight(
            value=weight_kg,
            device_value=f"{weight_kg:.3f}",
            device_unit="kg",
            stable=True,
            raw=f"S S     {weight_kg:.3f} kg\\r\\n",
            device="scale1",
        )
    return ParcelEvent(
        event_id=uuid7(),
        seq=seq,
        site=site,
        dock=dock,
        station=station,
        ts=datetime.fromtimestamp(ts_ms / 1000, UTC),
        outcome=outcome,
        barcodes=barcodes,
        weight=weight,
        images=list(images),
        agent_version="0.1.0",
    )


def _flag(value: bool | None) -> int | None:
    """Return a boolean as the 0/1 the INTEGER column holds (PostgreSQL refuses a boolean)."""
    return None if value is None else int(value)


def insert_parcel(conn: Any, event: ParcelEvent, received_ms: int = 0) -> None:
    """Insert one parcel event and its codes the way the gateway store lays them out."""
    ts_ms = int(event.ts.timestamp() * 1000)
    received_ms = received_ms or ts_ms + 40
    primary = next((b.text for b in event.barcodes if b.check_ok), None)
    if primary is None and event.barcodes:
        primary = event.barcodes[0].text
    with tx(conn):
        conn.execute(
            "INSERT INTO parcels (event_id, site, station, dock, seq, ts_ms, received_ms,"
            " committed_ms, outcome, barcode, weight_kg, flags, payload)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                event.event_id,
                event.site,
                event.station,
                event.dock,
                event.seq,
                ts_ms,
                received_ms,
                received_ms + 10,
                event.outcome.value,
                primary,
                event.weight.value if event.weight else None,
                ",".join(event.flags),
                event.to_json().decode(),
            ),
        )
        conn.executemany(
            "INSERT INTO parcel_codes (event_id, text, symbology, kind, check_ok)"
            " VALUES (?,?,?,?,?)",
            [
                (event.event_id, b.text, b.symbology, b.kind, _flag(b.check_ok))
                for b in event.barcodes
            ],
        )


STATION_FIELDS = (
    "id", "site", "dock", "state", "session", "state_since_ms", "last_seen_ms", "last_event_ms",
    "last_telemetry_ms", "telemetry_interval_s", "outbox_depth", "version", "devices",
)  # fmt: skip


def upsert_station(
    conn: Any,
    station: str,
    *,
    dock: str = "D1",
    state: str = "online",
    since_ms: int | None = None,
    last_seen_ms: int | None = None,
    last_event_ms: int | None = None,
    outbox_depth: int = 0,
    devices: dict | None = None,
) -> None:
    """Insert or replace a station row as the ingest keeps it."""
    now = now_ms()
    devices = devices or {
        "scale1": {"kind": "scale", "state": "ok", "reason": "", "since": "2026-11-27T08:00:00Z"}
    }
    with tx(conn):
        conn.execute(
            f"INSERT INTO stations ({', '.join(STATION_FIELDS)})"
            f" VALUES ({','.join('?' * len(STATION_FIELDS))}) ON CONFLICT (id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in STATION_FIELDS[1:]),
            (
                station,
                "hub",
                dock,
                state,
                1,
                since_ms or now,
                last_seen_ms or now,
                last_event_ms,
                last_seen_ms or now,
                10.0,
                outbox_depth,
                "0.1.0",
                json.dumps(devices),
            ),
        )


def set_state(conn: Any, station: str, state: str) -> None:
    """Change a station's state the way the ingest does on a status message or a Will."""
    with tx(conn):
        conn.execute(
            "UPDATE stations SET state = ?, state_since_ms = ?, session = session + 1 WHERE id = ?",
            (state, now_ms(), station),
        )


def add_station_event(
    conn: Any,
    station: str,
    device: str,
    state: str,
    reason: str,
    start_ms: int,
    end_ms: int | None = None,
) -> None:
    """Record a device fault interval (open while end_ms is None)."""
    with tx(conn):
        conn.execute(
            "INSERT INTO station_events (station, kind, device, state, reason, start_ms, end_ms)"
            " VALUES (?, 'device', ?, ?, ?, ?, ?)",
            (station, device, state, reason, start_ms, end_ms),
        )


def add_dead_letter(conn: Any, station: str, payload: bytes, reason: str) -> None:
    """Record a payload the ingest rejected."""
    with tx(conn):
        conn.execute(
            "INSERT INTO dead_letters (received_ms, topic, station, payload, payload_bytes, reason)"
            " VALUES (?,?,?,?,?,?)",
            (now_ms(), f"dockscan/v1/hub/{station}/parcel", station, payload, len(payload), reason),
        )


def set_counters(conn: Any, values: dict[str, float], gateway: str = "gw-1") -> None:
    """Write one gateway's counters as its ingest keeps them for /metrics and /healthz."""
    with tx(conn):
        conn.executemany(
            "INSERT INTO counters (gateway, name, value) VALUES (?, ?, ?)"
            " ON CONFLICT (gateway, name) DO UPDATE SET value = excluded.value",
            [(gateway, name, value) for name, value in values.items()],
        )


SEED_STATIONS = {"st-a1": "D1", "st-a2": "D1", "st-b1": "D2"}


def seed_site(conn: Any, now: int | None = None) -> list[ParcelEvent]:
    """Fill a small site: 3 stations, parcels over 24 h with every problem outcome, faults,
    dead letters, counters, a hostile barcode and a GS1 code with GS separators."""
    now = now or now_ms()
    minute = 60_000
    events: list[ParcelEvent] = []
    plan = [
        # (station, minutes ago, outcome, codes, weight)
        ("st-a1", 2, "OK", ("RR123456785GB",), 1.25),
        ("st-a1", 5, "NO_READ", (), 3.5),
        ("st-a1", 30, "OK", ("RR000000010GB",), 0.75),
        ("st-a1", 90, "NO_WEIGHT", ("RR111111115GB",), None),
        ("st-a1", 600, "OK", ("RR222222220GB",), 12.0),
        ("st-a2", 1, "OK", (HOSTILE,), 4.0),
        ("st-a2", 10, "INVALID_CODE", ("RR999999999GB",), 2.0),
        ("st-a2", 20, "OK", (GS1_WITH_GS, "RR333333335GB"), 7.5),
        ("st-b1", 120, "OK", ("RR444444440GB",), 5.0),
        ("st-b1", 60 * 30, "OK", ("RR555555555GB",), 5.0),  # 30 h ago: not in the last 24 h
    ]
    seqs: dict[str, int] = {}
    for station, ago, outcome, codes, weight in plan:
        seqs[station] = seqs.get(station, 0) + 1
        images = ("st-a1-noread-0001.jpg", "st-a1-noread-0002.jpg") if outcome == "NO_READ" else ()
        event = make_event(
            station,
            seqs[station],
            now - ago * minute,
            dock=SEED_STATIONS[station],
            outcome=outcome,
            codes=codes,
            weight_kg=weight,
            images=images,
        )
        insert_parcel(conn, event)
        events.append(event)
    faulty_cam = {
        "scale1": {"kind": "scale", "state": "ok", "reason": "", "since": "2026-11-27T06:00:00Z"},
        "cam1": {"kind": "camera", "state": "stalled", "reason": "no frames for 12 s",
                 "since": "2026-11-27T09:00:00Z"},
    }  # fmt: skip
    upsert_station(conn, "st-a1", dock="D1", last_event_ms=now - 2 * minute, outbox_depth=3)
    upsert_station(
        conn, "st-a2", dock="D1", last_event_ms=now - minute, outbox_depth=0, devices=faulty_cam
    )
    upsert_station(
        conn, "st-b1", dock="D2", state="offline", last_seen_ms=now - 50 * minute,
        last_event_ms=now - 120 * minute, outbox_depth=None,
    )  # fmt: skip
    add_station_event(conn, "st-a2", "cam1", "stalled", "no frames for 12 s", now - 15 * minute)
    add_station_event(conn, "st-a1", "scale1", "disconnected", "unplugged", now - 300 * minute,
                      now - 290 * minute)  # fmt: skip
    add_dead_letter(conn, "st-a1", b'{"schema": "dockscan.parcel/1", "seq": -1}', "seq: >= 0")
    add_dead_letter(conn, "st-a1", b"\x1d<script>alert(2)</script>", "not JSON")
    set_counters(
        conn,
        {
            "events_ingested_total": 10,
            "events_duplicate_total": 2,
            "dead_letters_total": 2,
            "broker_connected": 1,
            "heartbeat_ms": now,
            "ingest_latency_seconds_bucket:0.05": 9,
            "ingest_latency_seconds_bucket:+Inf": 10,
            "ingest_latency_seconds_sum": 0.4,
            "ingest_latency_seconds_count": 10,
        },
    )
    return events
