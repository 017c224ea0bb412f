"""The store where PostgreSQL differs: several gateways, refused text, its config, reconnects."""

import random
import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from dockscan.config import GatewayConfig, parse_config
from dockscan.errors import ConfigError, StoreError
from dockscan.events import DeviceState, StationStatus, Telemetry
from dockscan.ids import utcnow
from dockscan.topics import Topics
from gateway import liveness
from gateway.clock import now_ms
from gateway.db import pg_schema
from gateway.db.postgres import PgConnection, PooledReader
from gateway.deadletters import dead_letter
from gateway.schema import SCHEMA_VERSION
from gateway.store import DATA_ERRORS, Batch, Store, Written
from tests.gateway.ingest_support import SITE, parcel
from tests.support.postgres import PASSWORD, PASSWORD_ENV, Postgres

TOPICS = Topics()


@pytest.fixture
def pg_url(pg_server: Postgres) -> Iterator[str]:
    """A new empty database on the session server, its URL with the password."""
    name = pg_server.create_database()
    yield pg_server.url(name, password=True)
    pg_server.drop_database(name)


def together(work: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables in threads released at the same moment; return results or raise."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work[i]()
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


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


def test_size_cap_is_refused_on_postgresql(pg_server: Postgres) -> None:
    url = pg_server.url("any")
    assert GatewayConfig(database=url, retention_max_mb=0).postgres
    with pytest.raises(ConfigError, match="caps a SQLite file") as refused:
        parse_config({"site": {"id": SITE}, "gateway": {"database": url, "retention_max_mb": 5}})
    assert refused.value.key == "gateway.retention_max_mb"
    with pytest.raises(ValidationError, match="retention_max_mb"):
        GatewayConfig(database=url.replace("postgresql:", "postgres:"), retention_max_mb=0.5)
    assert GatewayConfig(database="gw.db", retention_max_mb=5).retention_max_mb == 5


def test_password_comes_from_the_named_variable(
    pg_server: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = pg_server.create_database()
    try:
        gw = GatewayConfig(database=pg_server.url(name), database_password_env=PASSWORD_ENV)
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
        with pytest.raises(ConfigError, match=f"names \\${PASSWORD_ENV}, which is unset") as unset:
            gw.database_password()
        assert unset.value.key == "gateway.database_password_env"
        monkeypatch.setenv(PASSWORD_ENV, "")
        with pytest.raises(ConfigError, match="unset or empty"):
            gw.database_password()
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        assert gw.database_password() == PASSWORD
        with Store(gw.database, password=gw.database_password()) as store:
            version = store.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            assert version.fetchall() == [(str(SCHEMA_VERSION),)]
        with pytest.raises(StoreError, match="cannot connect") as wrong:
            Store(gw.database, password="not-" + PASSWORD)
        assert "password authentication failed" in str(wrong.value)
    finally:
        pg_server.drop_database(name)


def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match="cannot connect") as refused:
        Store(f"postgresql://dockscan:s3cret-pw@127.0.0.1:{port}/gw")
    assert f"postgresql://dockscan:***@127.0.0.1:{port}/gw" in str(refused.value)
    assert "s3cret-pw" not in str(refused.value)


def test_migration_is_idempotent_and_two_stores_starting_together_migrate_once(
    pg_url: str,
) -> None:
    conns = [PgConnection(pg_url) for _ in range(4)]
    try:
        olds = together([lambda c=c: pg_schema.migrate(c) for c in conns])
        assert sorted(olds) == [0, SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION]
        assert pg_schema.migrate(conns[0]) == SCHEMA_VERSION  # again: nothing to do
        meta = conns[0].execute("SELECT key, value FROM meta").fetchall()
        assert meta == [("schema_version", str(SCHEMA_VERSION))]
        tables = conns[0].execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() ORDER BY table_name"
        )
        assert [name for (name,) in tables.fetchall()] == [
            "corrections", "counters", "dead_letters", "evidence", "hold_history", "holds",
            "leases", "manifest_imports", "manifest_line_history", "manifest_lines", "manifests",
            "meta", "outbound", "parcel_codes", "parcels", "station_events", "stations",
            "verdict_queue", "verdicts",
        ]  # fmt: skip
    finally:
        for c in conns:
            c.close()


def test_a_version_6_store_gets_the_verdict_queue_and_keeps_its_verdicts(pg_url: str) -> None:
    conn = PgConnection(pg_url)
    try:
        conn.execute("BEGIN")
        conn.execute(pg_schema.DDL)
        conn.execute(pg_schema.MIGRATIONS[6])
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '6')")
        conn.execute(
            "INSERT INTO verdicts (event_id, tracking_id, station, ts_ms, match, weight,"
            " decided_ms) VALUES ('e1', 'RR123456785CN', 'st1', 1, 'NO_MANIFEST', 'NO_WEIGHT', 2)"
        )
        conn.execute("COMMIT")
        assert pg_schema.migrate(conn) == 6
        assert conn.execute("SELECT count(*) FROM verdict_queue").fetchone() == (0,)
        assert conn.execute("SELECT event_id, match FROM verdicts").fetchall() == [
            ("e1", "NO_MANIFEST")
        ]
        assert pg_schema.migrate(conn) == SCHEMA_VERSION == 7
    finally:
        conn.close()


def test_two_stores_opening_an_empty_database_at_once(pg_url: str) -> None:
    stores = together(
        [lambda: Store(pg_url, gateway="gw-a"), lambda: Store(pg_url, gateway="gw-b")]
    )
    try:
        for i, store in enumerate(stores):
            ev = parcel("st1", i)
            assert store.write(Batch(parcels=[(ev, ev.to_json(), now_ms())])).inserted == 1
        assert stores[0].conn.execute("SELECT value FROM meta").fetchall() == [
            (str(SCHEMA_VERSION),)
        ]
    finally:
        for s in stores:
            s.close()


@pytest.fixture
def own_server() -> Iterator[Postgres]:
    """A private PostgreSQL this test may stop, kill and restart (the session one is shared)."""
    server = Postgres().start()
    yield server
    server.destroy()


def write_one(store: Store, seq: int) -> Written:
    """Write one parcel of st1 with `seq`."""
    ev = parcel("st1", seq)
    return store.write(Batch(parcels=[(ev, ev.to_json(), now_ms())]))


def test_connection_comes_back_after_the_server_restarts(own_server: Postgres) -> None:
    url = own_server.url(own_server.create_database(), password=True)
    reader = PooledReader(url, None, max_size=2)
    try:
        with Store(url) as store:
            assert write_one(store, 1).inserted == 1
            assert reader.execute("SELECT count(*) FROM parcels").fetchone() == (1,)
            own_server.stop("fast")
            own_server.restart()
            assert write_one(store, 2).inserted == 1  # between transactions: reconnects, no error
            assert reader.execute("SELECT count(*) FROM parcels").fetchone() == (2,)
            own_server.kill()  # a crash this time, and a read outside a transaction first
            own_server.restart()
            assert store.conn.execute("SELECT count(*) FROM parcels").fetchone() == (2,)
            assert write_one(store, 3).inserted == 1
            assert store.next_session("gw-1") == 1
            store.conn.execute("BEGIN IMMEDIATE")
            store.conn.execute("SELECT 1")
            own_server.kill()  # lost inside a transaction: that one fails, and says so
            own_server.restart()
            with pytest.raises(psycopg.OperationalError):
                store.conn.execute("SELECT count(*) FROM parcels")
            store.conn.execute("ROLLBACK")
            assert write_one(store, 4).inserted == 1
            store.conn.execute("BEGIN IMMEDIATE")
            store.conn.execute("INSERT INTO meta (key, value) VALUES ('lost', 'x')")
            own_server.kill()  # lost at COMMIT: that transaction fails, the next one works
            own_server.restart()
            with pytest.raises(psycopg.OperationalError):
                store.conn.execute("COMMIT")
            assert write_one(store, 5).inserted == 1
            assert store.conn.execute("SELECT count(*) FROM parcels").fetchone() == (5,)
            assert (
                store.conn.execute("SELECT value FROM meta WHERE key = 'lost'").fetchone() is None
            )
            assert reader.execute("SELECT count(*) FROM parcels").fetchone() == (5,)
    finally:
        reader.close()
