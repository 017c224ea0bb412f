"""Retention by age and by size deletes exactly the oldest rows, on its schedule."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dockscan.config import GatewayConfig
from dockscan.ids import utcnow
from gateway.clock import now_ms
from gateway.deadletters import dead_letter
from gateway.retention import DAY_MS, Retention, purge_by_age, purge_by_size, used_bytes
from gateway.store import Batch, Store, transaction
from tests.gateway.ingest_support import (
    StartGateway,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    parcel,
    query,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    """A fresh store on each backend, closed after the test."""
    with Store(store_target) as s:
        yield s


def fill(store: Store, days_ago: list[float]) -> list[str]:
    """Store one parcel per entry, captured that many days ago; return their ids in order."""
    now = utcnow()
    events = [
        parcel("st1", i).model_copy(update={"ts": now - timedelta(days=d)})
        for i, d in enumerate(days_ago)
    ]
    store.write(Batch(parcels=[(e, e.to_json(), now_ms()) for e in events]))
    return [e.event_id for e in events]


def ids(store: Store) -> set[str]:
    """Return the stored parcel ids."""
    return {r[0] for r in store.conn.execute("SELECT event_id FROM parcels")}


def test_age_deletes_older_rows_only(store: Store) -> None:
    kept = fill(store, [0, 1, 9.9])
    gone = fill(store, [10.1, 30, 400])
    at = now_ms()
    store.write(Batch(dead=[dead_letter(at - 11 * DAY_MS, "t", None, b"1", "old", 64),
                            dead_letter(at - 9 * DAY_MS, "t", None, b"2", "new", 64)]))  # fmt: skip
    with transaction(store.conn):
        store.conn.executemany(
            "INSERT INTO station_events (station, kind, state, start_ms, end_ms)"
            " VALUES ('st1', 'state', ?, ?, ?)",
            [("ended-old", at - 20 * DAY_MS, at - 11 * DAY_MS),
             ("ended-new", at - 20 * DAY_MS, at - 9 * DAY_MS),
             ("open-old", at - 20 * DAY_MS, None)],
        )  # fmt: skip
    purged = Retention(GatewayConfig(retention_days=10)).run_all(store.conn, at)
    assert (purged.parcels, purged.dead_letters, purged.station_events) == (3, 1, 1)
    assert ids(store) == set(kept)
    assert not set(gone) & ids(store)
    assert store.conn.execute("SELECT reason FROM dead_letters").fetchall() == [("new",)]
    events = {r[0] for r in store.conn.execute("SELECT state FROM station_events")}
    assert events == {"ended-new", "open-old"}
    codes = store.conn.execute("SELECT DISTINCT event_id FROM parcel_codes").fetchall()
    assert {r[0] for r in codes} == set(kept)


def test_age_works_in_slices(store: Store) -> None:
    fill(store, [20] * 25 + [1] * 5)
    at = now_ms()
    assert purge_by_age(store.conn, at - 10 * DAY_MS, limit=10).parcels == 10
    retention = Retention(GatewayConfig(retention_days=10), slice_rows=10)
    assert retention.step(store.conn, at).parcels == 10  # a full slice: more to do
    assert retention.step(store.conn, at).parcels == 5
    assert retention.step(store.conn, at) is None  # done: not due again until retention_every_s
    assert len(ids(store)) == 5
    assert retention.step(store.conn, at + 3600_000).parcels == 0


def test_size_cap_keeps_the_newest(tmp_path: Path) -> None:
    """SQLite only: retention_max_mb caps a SQLite file (the config refuses it on PostgreSQL)."""
    with Store(tmp_path / "gw.db") as store:
        order = fill(store, [3 - i / 1000 for i in range(3000)])  # oldest first
        full = used_bytes(store.conn)
        assert purge_by_size(store.conn, full + 1).parcels == 0  # under the cap: nothing
        cap = full // 2
        retention = Retention(GatewayConfig(retention_max_mb=cap / 1e6), slice_rows=500)
        purged = retention.run_all(store.conn, now_ms())
        assert used_bytes(store.conn) <= cap
        left = ids(store)
    assert 0 < len(left) < 3000 and purged.parcels == 3000 - len(left)
    assert set(order[-len(left) :]) == left  # exactly the newest survive
    assert len(left) > 1000  # it did not delete far more than needed


def test_gateway_runs_retention_on_its_schedule(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway
) -> None:
    """SQLite only: the gateway subprocess helpers (ingest_support) wait on the SQLite file."""
    db = tmp_path / "gw.db"
    with Store(db) as store:
        old = fill(store, [2, 3])
        new = fill(store, [0])
    cfg = write_config(tmp_path, mosquitto.url, retention_days=1, retention_every_s=1)
    gateways(cfg)
    wait_for(lambda: query(db, "SELECT count(*) FROM parcels") == [(1,)], 10, what="retention")
    assert query(db, "SELECT event_id FROM parcels") == [(new[0],)]
    assert not set(old) & {r[0] for r in query(db, "SELECT event_id FROM parcel_codes")}
