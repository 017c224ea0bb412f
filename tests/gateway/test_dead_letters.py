"""Dead letters: one row per distinct message, repeats counted, pruned by the last arrival."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from dockscan.config import GatewayConfig
from gateway.clock import now_ms
from gateway.deadletters import DeadLetter, dead_letter, digest
from gateway.retention import DAY_MS, Retention
from gateway.schema import DDL, MIGRATIONS, SCHEMA_VERSION, schema_version
from gateway.store import Batch, Store, open_db
from tests.gateway.ingest_support import (
    StartGateway,
    Station,
    counter,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    parcel,
    query,
    topic,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for

ROWS_SQL = "SELECT topic, payload, repeats, received_ms, last_ms, reason FROM dead_letters"


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    """A fresh store on each backend, closed after the test."""
    with Store(store_target) as s:
        yield s


def counters(store: Store) -> tuple[float, float]:
    """Return (dead_letters_total, dead_letters_repeated_total)."""
    rows = dict(store.conn.execute("SELECT name, value FROM counters"))
    return rows.get("dead_letters_total", 0), rows.get("dead_letters_repeated_total", 0)


def test_repeats_within_and_across_batches_bump_one_row(store: Store) -> None:
    def bad(at: int) -> DeadLetter:
        return dead_letter(at, "t/st1/parcel", "st1", b"{nope", "bad JSON: x", 64)

    first = store.write(Batch(dead=[bad(100), bad(300), bad(200)]))
    assert (first.dead, first.dead_repeated) == (1, 2)
    second = store.write(Batch(dead=[bad(50), bad(400)]))
    assert (second.dead, second.dead_repeated) == (0, 2)
    rows = store.conn.execute(ROWS_SQL).fetchall()
    assert rows == [("t/st1/parcel", b"{nope", 5, 100, 400, "bad JSON: x")]
    assert counters(store) == (1, 4)  # 5 arrivals: 1 distinct + 4 repeats


def test_topic_and_whole_payload_make_a_message_distinct(store: Store) -> None:
    long_a, long_b = b"x" * 100 + b"a", b"x" * 100 + b"b"  # equal in the 64 bytes kept
    letters = [
        dead_letter(1, "t/st1/parcel", "st1", long_a, "r", 64),
        dead_letter(2, "t/st1/parcel", "st1", long_b, "r", 64),
        dead_letter(3, "t/st2/parcel", "st2", long_a, "r", 64),
        dead_letter(4, "t/st1/parcel", "st1", long_a, "r", 64),
    ]
    assert letters[0].digest == digest("t/st1/parcel", long_a) != letters[1].digest
    written = store.write(Batch(dead=letters))
    assert (written.dead, written.dead_repeated) == (3, 1)
    rows = store.conn.execute("SELECT topic, payload, payload_bytes, repeats FROM dead_letters")
    assert sorted(rows) == [
        ("t/st1/parcel", b"x" * 64, 101, 1),
        ("t/st1/parcel", b"x" * 64, 101, 2),
        ("t/st2/parcel", b"x" * 64, 101, 1),
    ]


def test_many_distinct_letters_in_one_batch(store: Store) -> None:
    letters = [dead_letter(i, "t", None, str(i).encode(), "r", 64) for i in range(1200)]
    assert store.write(Batch(dead=letters)).dead == 1200
    again = store.write(Batch(dead=letters[::2]))  # more digests than one IN (...) query holds
    assert (again.dead, again.dead_repeated) == (0, 600)
    assert store.conn.execute("SELECT sum(repeats), count(*) FROM dead_letters").fetchone() == (
        1800,
        1200,
    )


def test_nul_in_topic_or_reason_is_written_out(store: Store) -> None:
    letter = dead_letter(5, "t/st\x001/parcel", None, b"\x00{", "bad \x00 here", 64)
    assert letter.digest == digest("t/st\x001/parcel", b"\x00{")  # the message as it came
    assert store.write(Batch(dead=[letter, letter])).dead == 1
    rows = store.conn.execute("SELECT topic, payload, reason, repeats FROM dead_letters")
    assert rows.fetchall() == [("t/st\\x001/parcel", b"\x00{", "bad \\x00 here", 2)]


def test_version_2_dead_letters_are_migrated(tmp_path: Path) -> None:
    """SQLite only: version-2 stores exist only as SQLite files (PostgreSQL starts at 5)."""
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(DDL + MIGRATIONS[2] + "PRAGMA user_version = 2;")
        conn.execute(
            "INSERT INTO dead_letters (received_ms, topic, payload, payload_bytes, reason)"
            " VALUES (7, 't', x'00', 1, 'old')"
        )
    conn.close()
    db = open_db(path)
    assert schema_version(db) == SCHEMA_VERSION == 7
    row = db.execute("SELECT topic, reason, digest, repeats, last_ms FROM dead_letters")
    assert row.fetchall() == [("t", "old", None, 1, 7)]
    db.close()


def test_age_retention_goes_by_the_last_arrival(store: Store) -> None:
    at = now_ms()

    def letter(received: int, payload: bytes) -> DeadLetter:
        return dead_letter(received, "t", None, payload, payload.decode(), 64)

    store.write(Batch(dead=[letter(at - 20 * DAY_MS, b"still-sent"),
                            letter(at - 20 * DAY_MS, b"gone-quiet"),
                            letter(at - 9 * DAY_MS, b"recent")]))  # fmt: skip
    store.write(Batch(dead=[letter(at - DAY_MS, b"still-sent")]))
    store.conn.execute(  # written by something that does not set last_ms
        "INSERT INTO dead_letters (received_ms, topic, payload, payload_bytes, reason)"
        " VALUES (?, 't', ?, 0, 'legacy-old'), (?, 't', ?, 0, 'legacy-new')",
        (at - 11 * DAY_MS, b"", at - 9 * DAY_MS, b""),
    )
    purged = Retention(GatewayConfig(retention_days=10)).run_all(store.conn, at)
    assert purged.dead_letters == 2
    left = store.conn.execute("SELECT reason, repeats FROM dead_letters ORDER BY id").fetchall()
    assert left == [("still-sent", 2), ("recent", 1), ("legacy-new", 1)]


def test_same_malformed_payload_fifty_times_is_one_row(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway
) -> None:
    """SQLite only: the gateway subprocess helpers (ingest_support) wait on the SQLite file."""
    db = tmp_path / "gw.db"
    gw = gateways(write_config(tmp_path, mosquitto.url, stations=2))
    doc = orjson.loads(parcel("st1", 1).to_json())
    doc["schema"] = "dockscan.parcel/2"  # what an edge would re-send after every ack timeout
    resent = orjson.dumps(doc)
    distinct = [parcel("st1", 1).to_json()[:-3] + str(i).encode() for i in range(10)]
    station = Station(mosquitto.port)
    try:
        station.publish_many([(topic("st1", "parcel"), resent)] * 25)  # bursts share batches
        for _ in range(25):
            station.publish(topic("st1", "parcel"), resent)
        station.publish_many([(topic("st2", "parcel"), p) for p in distinct])
        station.publish(topic("st2", "parcel"), resent)  # same bytes, other topic: distinct
        wait_for(
            lambda: (
                (counter(db, "dead_letters_total"), counter(db, "dead_letters_repeated_total"))
                == (12, 49)
            ),
            15,
            what="12 distinct dead letters and 49 repeats",
        )
        good = parcel("st1", 2)
        station.publish(topic("st1", "parcel"), good.to_json())
        wait_for(lambda: good.event_id in station.acked, 10, what="the good event's ack")
        assert gw.running
        rows = query(db, "SELECT topic, payload, repeats, reason FROM dead_letters ORDER BY id")
        assert len(rows) == 12
        assert rows[0][:3] == (topic("st1", "parcel"), resent, 50)
        reason = "wrong schema version: got 'dockscan.parcel/2', expected 'dockscan.parcel/1'"
        assert rows[0][3] == reason
        assert sorted(r[1] for r in rows[1:11]) == sorted(distinct)
        assert all(r[2] == 1 for r in rows[1:])
        assert rows[11][:3] == (topic("st2", "parcel"), resent, 1)
        assert counter(db, "dead_letters_total") == 12
        assert query(db, "SELECT sum(repeats) FROM dead_letters") == [(12 + 49,)]
        assert station.acked == {good.event_id}  # dead letters are never acknowledged
    finally:
        station.close()
    assert gw.stop() == 0
