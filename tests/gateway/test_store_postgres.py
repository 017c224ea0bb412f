"""The store where PostgreSQL differs: several gateways at once, refused text."""

import random
import re
import threading

import psycopg
import pytest

from dockscan.events import DeviceState, StationStatus, Telemetry
from dockscan.ids import utcnow
from dockscan.topics import Topics
from gateway import liveness
from gateway.clock import now_ms
from gateway.deadletters import dead_letter
from gateway.store import DATA_ERRORS, Batch, Store, Written
from tests.gateway.ingest_support import SITE, parcel
from tests.support.procs import together

TOPICS = Topics()


def test_two_gateways_store_overlapping_batches_once(pg_url: str) -> None:
    events = [parcel(f"st{1 + i % 3}", i, code=f"C{i}") for i in range(300)]
    events = [
        e.model_copy(update={"barcodes": [*e.barcodes, e.barcodes[0].model_copy()]}) for e in events
    ]  # two codes each
    rng = random.Random(7)
    plans = []
    for part in (events[:200], events[100:]):  # 100 events both gateways write
        part = part[:]
        rng.shuffle(part)
        plans.append([part[i : i + 25] for i in range(0, len(part), 25)])
    stores = [Store(pg_url, gateway="gw-a"), Store(pg_url, gateway="gw-b")]
    try:

        def ingest(store: Store, batches: list) -> list[Written]:
            rx = now_ms()
            return [store.write(Batch(parcels=[(e, e.to_json(), rx) for e in b])) for b in batches]

        done = together([lambda s=s, p=p: ingest(s, p) for s, p in zip(stores, plans, strict=True)])
        conn = stores[0].conn
        assert sum(w.inserted for ws in done for w in ws) == 300
        assert sum(w.duplicates for ws in done for w in ws) == 100
        acked = [i for ws in done for w in ws for ids in w.ids.values() for i in ids]
        assert len(acked) == 400 and set(acked) == {e.event_id for e in events}
        assert conn.execute("SELECT count(*) FROM parcels").fetchone() == (300,)
        assert conn.execute("SELECT count(*) FROM parcel_codes").fetchone() == (600,)
        assert conn.execute(
            "SELECT count(*) FROM (SELECT event_id FROM parcel_codes GROUP BY event_id"
            " HAVING count(*) <> 2) AS odd"
        ).fetchone() == (0,)
        ingested = conn.execute(
            "SELECT sum(value) FROM counters WHERE name = 'events_ingested_total'"
        ).fetchone()
        assert ingested == (300,)
        seqs = conn.execute("SELECT id, last_seq FROM stations ORDER BY id").fetchall()
        assert seqs == [("st1", 297), ("st2", 298), ("st3", 299)]
    finally:
        for s in stores:
            s.close()


def test_two_gateways_dead_lettering_the_same_messages_count_each_once(pg_url: str) -> None:
    letters = [dead_letter(i, f"t/{i % 5}", None, str(i).encode(), "r", 64) for i in range(200)]
    stores = [Store(pg_url, gateway="gw-a"), Store(pg_url, gateway="gw-b")]
    try:
        orders = [letters[:], letters[::-1]]  # the same messages, arriving in opposite orders

        def ingest(store: Store, order: list) -> tuple[int, int]:
            out = [store.write(Batch(dead=order[i : i + 40])) for i in range(0, 200, 40)]
            return sum(w.dead for w in out), sum(w.dead_repeated for w in out)

        done = together(
            [lambda s=s, o=o: ingest(s, o) for s, o in zip(stores, orders, strict=True)]
        )
        assert sum(d for d, _ in done) == 200 and sum(r for _, r in done) == 200
        conn = stores[0].conn
        assert conn.execute("SELECT count(*), sum(repeats) FROM dead_letters").fetchone() == (
            200,
            400,
        )
        totals = conn.execute(
            "SELECT name, sum(value) FROM counters WHERE name LIKE 'dead_letters%'"
            " GROUP BY name ORDER BY name"
        ).fetchall()
        assert totals == [("dead_letters_repeated_total", 200), ("dead_letters_total", 200)]
    finally:
        for s in stores:
            s.close()


def status(station: str, **devices: DeviceState) -> StationStatus:
    """Return an online status of session 1 for a station."""
    return StationStatus(
        site=SITE, station=station, dock="d" + station.removeprefix("st"), state="online",
        session=1, ts=utcnow(), version="1", devices=devices,
    )  # fmt: skip


def test_gateways_crossing_parcels_and_statuses_take_turns(pg_url: str) -> None:
    """Parcels of st1 with st2's status on one gateway, the reverse on the other: no deadlock."""
    stores = [Store(pg_url, gateway="gw-a"), Store(pg_url, gateway="gw-b")]
    try:

        def ingest(store: Store, mine: str, other: str, first: int) -> int:
            inserted = 0
            for seq in range(first, first + 150):
                ev, rx = parcel(mine, seq), now_ms()
                done = store.write(Batch(parcels=[(ev, ev.to_json(), rx)],
                                         signals=[(status(other), rx)]))  # fmt: skip
                inserted += done.inserted
            return inserted

        done = together([lambda: ingest(stores[0], "st1", "st2", 0),
                         lambda: ingest(stores[1], "st2", "st1", 1000)])  # fmt: skip
        assert done == [150, 150]
        conn = stores[0].conn
        assert conn.execute("SELECT count(*) FROM parcels").fetchone() == (300,)
        rows = conn.execute("SELECT id, state, dock, last_seq FROM stations ORDER BY id")
        assert rows.fetchall() == [("st1", "online", "d1", 149), ("st2", "online", "d2", 1149)]
        events = conn.execute("SELECT station, state FROM station_events ORDER BY station")
        assert events.fetchall() == [("st1", "online"), ("st2", "online")]
    finally:
        for s in stores:
            s.close()


def test_liveness_checks_and_a_batch_take_turns(pg_url: str) -> None:
    """The stale pass locks st3, the gap pass then wants st1, held by a batch wanting st3."""
    with Store(pg_url) as store:
        t0 = now_ms()
        tel = Telemetry(
            site=SITE, station="st3", ts=utcnow(), session=1, interval_s=1.0, outbox_depth=0
        )
        events = [parcel("st1", seq) for seq in (1, 2, 4)]  # seq 3 missing
        store.write(Batch(parcels=[(e, e.to_json(), t0) for e in events],
                          signals=[(status("st3"), t0 - 60_000), (tel, t0 - 60_000)]))  # fmt: skip
        errors: list[BaseException] = []

        def check() -> None:
            try:
                store.check_liveness(liveness.Defaults(), 0)
            except BaseException as exc:  # re-raised below
                errors.append(exc)

        with psycopg.connect(pg_url, autocommit=True) as batch:  # a batch writer, half done
            batch.execute("BEGIN")
            batch.execute("SELECT id FROM stations WHERE id = 'st1' FOR UPDATE")
            checker = threading.Thread(target=check, daemon=True)
            checker.start()
            checker.join(1.5)  # a deadlock shows after deadlock_timeout (1 s)
            assert checker.is_alive() and not errors  # waiting for st1
            batch.execute("UPDATE stations SET last_seen_ms = %s WHERE id = 'st3'", (t0,))
            batch.execute("COMMIT")
            checker.join(10)
        assert not checker.is_alive()
        if errors:
            raise errors[0]
        rows = store.conn.execute("SELECT id, state, seq_gaps FROM stations ORDER BY id")
        assert rows.fetchall() == [("st1", "unknown", 1), ("st3", "stale", 0)]


def nul_status() -> StationStatus:
    """Return a status whose device reason holds a NUL (a text column on PostgreSQL)."""
    dev = DeviceState(kind="scale", state="fault", reason="bad\x00frame", since=utcnow())
    return status("st1", scale=dev)


def test_nul_in_a_text_column_is_dead_lettered_not_a_crash(pg_url: str) -> None:
    good = [parcel("st1", i) for i in range(3)]
    bad = parcel("st1", 3, code="JJD\x00123")  # the primary code: parcels.barcode and codes
    # A NUL only in the JSON (a code's source): the payload keeps it as \u0000, which is fine.
    odd = parcel("st1", 4)
    odd = odd.model_copy(
        update={"barcodes": [odd.barcodes[0].model_copy(update={"source": "c\x00"})]}
    )
    rx, signal = now_ms(), nul_status()
    batch = Batch(parcels=[(e, e.to_json(), rx) for e in [*good, bad, odd]], signals=[(signal, rx)])
    with Store(pg_url) as store:
        # psycopg refuses a NUL in a text parameter; in a binary array the server does (0x00).
        with pytest.raises(DATA_ERRORS, match=r"NUL|0x00"):
            store.write(batch)
        assert store.conn.execute("SELECT count(*) FROM parcels").fetchone() == (0,)
        written = store.write_each(batch, {}, TOPICS, 4096)
        assert (written.inserted, written.duplicates, written.dead) == (4, 0, 2)
        assert written.ids == {(SITE, "st1"): sorted(e.event_id for e in [*good, odd])}
        assert store.conn.execute("SELECT count(*) FROM parcels").fetchone() == (4,)
        stored = store.conn.execute(
            "SELECT payload FROM parcels WHERE event_id = ?", (odd.event_id,)
        )
        assert b"\\u0000" in odd.to_json() and stored.fetchone() == (odd.to_json().decode(),)
        rows = store.conn.execute(
            "SELECT topic, station, payload, reason FROM dead_letters ORDER BY id"
        ).fetchall()
        assert [r[:3] for r in rows] == [
            ("dockscan/v1/T1/st1/parcel", "st1", bad.to_json()),
            ("dockscan/v1/T1/st1/status", "st1", signal.to_json()),
        ]
        assert all("store refused it" in r[3] and re.search("NUL|0x00", r[3]) for r in rows), rows
        assert store.conn.execute("SELECT count(*) FROM station_events").fetchone() == (0,)
