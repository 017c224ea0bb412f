"""The PostgreSQL store's setup: size cap, password, unreachable server, migrations, reconnects."""

import socket
from collections.abc import Iterator

import psycopg
import pytest
from pydantic import ValidationError

from dockscan.config import GatewayConfig, parse_config
from dockscan.errors import ConfigError, StoreError
from gateway.clock import now_ms
from gateway.db import pg_schema
from gateway.db.postgres import PgConnection, PooledReader
from gateway.reconcile import queue
from gateway.reconcile.verdict import Sighting
from gateway.schema import SCHEMA_VERSION
from gateway.store import Batch, Store, Written
from tests.gateway.ingest_support import SITE, parcel
from tests.support.postgres import PASSWORD, PASSWORD_ENV, Postgres
from tests.support.procs import together


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
            "clearing_open", "corrections", "counters", "dead_letters", "evidence", "hold_history",
            "holds", "leases", "manifest_imports", "manifest_line_history", "manifest_lines",
            "manifests", "meta", "outbound", "parcel_codes", "parcels", "station_events",
            "stations", "verdict_queue", "verdicts",
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
        assert pg_schema.migrate(conn) == SCHEMA_VERSION
    finally:
        conn.close()


def test_a_version_8_store_keeps_its_queued_sightings_as_one_row(pg_url: str) -> None:
    conn = PgConnection(pg_url)
    try:
        conn.execute("BEGIN")
        conn.execute(pg_schema.DDL)
        for version in range(6, 9):
            conn.execute(pg_schema.MIGRATIONS[version])
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '8')")
        conn.execute(
            "INSERT INTO verdict_queue (event_id, tracking_id, station, ts_ms, measured_kg)"
            " VALUES ('e1', 'RR123456785CN', 'st1', 1, 2.5), ('e2', 'RR000000014CN', 'st2', 2,"
            " NULL)"
        )
        conn.execute("COMMIT")
        assert pg_schema.migrate(conn) == 8
        assert queue.depth(conn) == 2
        ids, sightings = queue.take(conn, 1000)
        assert len(ids) == 1 and sightings == [
            Sighting("e1", "RR123456785CN", "st1", 1, 2.5),
            Sighting("e2", "RR000000014CN", "st2", 2, None),
        ]
    finally:
        conn.close()


def test_a_version_7_store_opens_its_unresolved_unread_parcels_at_the_desk(pg_url: str) -> None:
    conn = PgConnection(pg_url)
    parcel_sql = (
        "INSERT INTO parcels (event_id, site, station, dock, seq, ts_ms, received_ms,"
        " committed_ms, outcome, payload) VALUES (?, 'T1', 'st1', 'd1', 1, ?, 5, 5, ?, ?)"
    )
    try:
        conn.execute("BEGIN")
        for script in (pg_schema.DDL, pg_schema.MIGRATIONS[6], pg_schema.MIGRATIONS[7]):
            conn.execute(script)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '7')")
        for event_id, outcome, payload in [
            ("read", "OK", '{"images": []}'),
            ("corrected", "NO_READ", '{"images": ["a.jpg"]}'),
            ("open", "MULTI_READ", '{"images": ["a.jpg", "b.jpg"]}'),
            ("no-list", "INVALID_CODE", "{}"),
        ]:
            conn.execute(parcel_sql, (event_id, len(event_id), outcome, payload))
        conn.execute(
            "INSERT INTO corrections (event_id, station, action, original_outcome, actor,"
            " created_ms) VALUES ('corrected', 'st1', 'relabelled', 'NO_READ', 'ann', 9)"
        )
        conn.execute("COMMIT")
        assert pg_schema.migrate(conn) == 7
        got = conn.execute("SELECT event_id, dock, ts_ms, images FROM clearing_open ORDER BY 1")
        assert got.fetchall() == [("no-list", "d1", 7, 0), ("open", "d1", 4, 2)]
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
