"""Ingest over a real Mosquitto with `dockscan gateway run` as a subprocess, on both stores.

Tests that read or write the store run on SQLite and PostgreSQL (the `store_target` fixture);
the few that are about the broker connection alone run on SQLite.
"""

import random
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.store import Store
from tests.gateway.ingest_support import (
    PREFIX,
    SITE,
    Gateway,
    StartGateway,
    Station,
    as_target,
    counter,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    parcel,
    query,
    topic,
    wait_online,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for

MALFORMED_KINDS = (
    "bad JSON",
    "invalid UTF-8",
    "wrong schema version",
    "missing fields",
    "oversized payload",
    "topic names",
    "invalid field seq: Input should be less than 9223372036854775808",
)


def malformed(i: int, max_bytes: int) -> tuple[str, bytes, str]:
    """Return (topic, payload, expected reason prefix) for the i-th malformed message."""
    kind = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
    good = parcel("st1", 10_000 + i)
    doc = orjson.loads(good.to_json())
    if kind == "bad JSON":
        return topic("st1", "parcel"), good.to_json()[:-7], kind
    if kind == "invalid UTF-8":
        return topic("st1", "parcel"), good.to_json().replace(b"JJD", b"J\xff\xfe"), kind
    if kind == "wrong schema version":
        doc["schema"] = "dockscan.parcel/2"
    elif kind == "missing fields":
        del doc["seq"], doc["ts"]
    elif kind == "oversized payload":
        doc["flags"] = ["x" * (max_bytes + 10)]
    elif kind.startswith("invalid field seq"):  # valid JSON; no SQLite integer holds it
        big = good.to_json().replace(f'"seq":{good.seq},'.encode(), b'"seq":' + b"9" * 30 + b",")
        return topic("st1", "parcel"), big, kind
    else:
        return topic("st2", "parcel"), orjson.dumps(doc), kind  # payload says st1
    return topic("st1", "parcel"), orjson.dumps(doc), kind


def test_10k_events_with_duplicates_and_malformed(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=5, max_payload_bytes=2048,
                       dead_letter_payload_bytes=256, database=store_target)  # fmt: skip
    db = as_target(store_target)
    gw = gateways(cfg)
    rng = random.Random(6)
    events = [parcel(f"st{1 + i % 5}", i // 5) for i in range(9000)]
    messages = [(topic(e.station, "parcel"), e.to_json()) for e in events]
    messages += [messages[i] for i in rng.sample(range(9000), 1000)]  # re-deliveries
    bad = [malformed(i, 2048) for i in range(200)]
    messages += [(t, p) for t, p, _ in bad]
    rng.shuffle(messages)
    assert len(messages) == 10_200
    station = Station(mosquitto.port)
    try:
        station.publish_many(messages)
        wait_for(lambda: counter(db, "events_duplicate_total") == 1000, 30, what="all events")
        assert gw.running
        assert query(db, "SELECT count(*) FROM parcels")[0][0] == 9000
        assert counter(db, "events_ingested_total") == 9000
        assert counter(db, "dead_letters_total") == 200
        reasons = query(db, "SELECT reason, length(payload), payload_bytes FROM dead_letters")
        assert len(reasons) == 200
        for kind in MALFORMED_KINDS:
            found = [r for r in reasons if r[0].startswith(kind)]
            assert len(found) in (28, 29), (kind, len(found))
        assert all(stored <= 256 for _, stored, _ in reasons)
        assert any(size > 2048 for _, _, size in reasons)  # the oversized ones, truncated
        wait_for(lambda: len(station.acked) == 9000, 10, what="acks for every event")
        assert station.acked == {e.event_id for e in events}
        # Still alive and ingesting after all that input.
        late = parcel("st3", 5000)
        station.publish(topic("st3", "parcel"), late.to_json())
        wait_for(lambda: late.event_id in station.acked, 10, what="ack after junk")
        codes = query(db, "SELECT count(*) FROM parcel_codes")[0][0]
        assert codes == 9001
    finally:
        station.close()
    assert gw.stop() == 0


def test_acks_only_after_commit_across_sigkill(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=2, batch_size=50, database=store_target)
    db = as_target(store_target)
    gw = gateways(cfg)
    events = [parcel(f"st{1 + i % 2}", i // 2) for i in range(4000)]
    station = Station(mosquitto.port)
    sender = threading.Thread(
        target=station.publish_many,
        args=([(topic(e.station, "parcel"), e.to_json()) for e in events],),
    )
    try:
        sender.start()
        wait_for(lambda: len(station.acked) >= 500, 20, what="first acks")
        gw.kill()
        with station.lock:
            acked_at_kill = set(station.acked)
        stored = {r[0] for r in query(db, "SELECT event_id FROM parcels")}
        assert acked_at_kill <= stored, f"{len(acked_at_kill - stored)} acked ids not stored"
        assert len(stored) < len(events)  # killed mid-stream
        sender.join(60)
        gateways(cfg)  # the persistent session re-delivers everything not PUBACKed
        wait_for(lambda: query(db, "SELECT count(*) FROM parcels")[0][0] == 4000, 30)
        # Like the edge after its ack timeout: re-send what has no ack yet (committed, but
        # the gateway died before its ack went out); the gateway acks the duplicates.
        with station.lock:
            pending = [e for e in events if e.event_id not in station.acked]
        station.publish_many([(topic(e.station, "parcel"), e.to_json()) for e in pending])
        wait_for(lambda: len(station.acked) == 4000, 30, what="acks after restart")
        assert query(db, "SELECT count(*) FROM parcels")[0][0] == 4000
    finally:
        station.close()


def test_stop_commits_and_publishes_offline_status(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=1, database=store_target)
    gw = gateways(cfg)
    station = Station(mosquitto.port)
    statuses: list[dict] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_message = lambda c, u, m: statuses.append(orjson.loads(m.payload))
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe(f"{PREFIX}/{SITE}/gateway/gw-1/status", qos=1)
    watcher.loop_start()
    try:
        wait_for(lambda: statuses and statuses[-1]["state"] == "online", 5, what="online")
        events = [parcel("st1", i) for i in range(3000)]
        sender = threading.Thread(
            target=station.publish_many,
            args=([(topic("st1", "parcel"), e.to_json()) for e in events],),
        )
        sender.start()
        db = as_target(store_target)
        wait_for(lambda: len(station.acked) > 300, 10, what="some acks")
        assert gw.stop() == 0  # mid-stream
        sender.join(30)
        stored = {r[0] for r in query(db, "SELECT event_id FROM parcels")}
        wait_for(lambda: station.acked == stored, 5, what="acks for everything committed")
        assert len(stored) < 3000
        wait_for(lambda: statuses[-1]["state"] == "offline", 5, what="offline status")
        assert statuses[-1]["session"] == statuses[0]["session"]
        assert counter(db, "broker_connected") == 0
        # A restart is a new session and gets the rest from the broker. A clean stop
        # acknowledged everything it committed, so nothing comes back as a duplicate.
        gateways(cfg)
        wait_for(lambda: statuses[-1]["state"] == "online", 5, what="online again")
        assert statuses[-1]["session"] == statuses[0]["session"] + 1
        wait_for(lambda: len(station.acked) == 3000, 20, what="the rest after restart")
        assert query(db, "SELECT count(*) FROM parcels")[0][0] == 3000
        assert not counter(db, "events_duplicate_total")
    finally:
        watcher.loop_stop()
        watcher.disconnect()
        station.close()


def test_mqtt_311_gateway_ingests_and_acks(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=1, database=store_target)
    cfg.write_text(cfg.read_text().replace("[gateway]", 'protocol = "3.1.1"\n[gateway]'))
    gateways(cfg)
    station = Station(mosquitto.port, v5=False)
    try:
        events = [parcel("st1", i) for i in range(500)]
        station.publish_many([(topic("st1", "parcel"), e.to_json()) for e in events])
        wait_for(lambda: len(station.acked) == 500, 15, what="acks over 3.1.1")
    finally:
        station.close()


def test_two_workers_share_the_parcel_topic(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=2, database=store_target)
    db = as_target(store_target)
    gw = gateways(cfg, "--workers", "2")
    wait_online(mosquitto.port, {"gw-1-w1", "gw-1-w2"})
    station = Station(mosquitto.port)
    try:
        events = [parcel(f"st{1 + i % 2}", i // 2) for i in range(2000)]
        station.publish_many([(topic(e.station, "parcel"), e.to_json()) for e in events])
        wait_for(lambda: len(station.acked) == 2000, 20, what="acks from both workers")
        assert station.ack_gateways == {"gw-1-w1", "gw-1-w2"}  # both workers committed
        keys = {r[0] for r in query(db, "SELECT key FROM meta WHERE key LIKE 'gateway_s%'")}
        assert keys == {"gateway_session:gw-1-w1", "gateway_session:gw-1-w2"}
    finally:
        station.close()
    assert gw.stop() == 0
    assert query(db, "SELECT count(*) FROM parcels")[0][0] == 2000


def test_refused_connection_backs_off_and_stops_cleanly(tmp_path: Path) -> None:
    """SQLite only: about the broker refusing the gateway; the store plays no part."""
    broker = Mosquitto(tmp_path / "broker", extra="allow_anonymous false").start()
    try:
        cfg = write_config(tmp_path, broker.url, stations=1)
        gw = Gateway(cfg).launch()
        time.sleep(4)
        assert gw.running
        attempts = broker.log_path.read_text().count("not authorised")
        assert 2 <= attempts <= 8, attempts  # retried, with backoff (not a tight loop)
        assert gw.stop() == 0
        assert "broker refused the connection: Not authorized" in gw.log.read_text()
    finally:
        broker.kill()


def test_bad_topics_are_dead_letters_and_empty_status_retires(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=1, database=store_target)
    db = as_target(store_target)
    gateways(cfg)
    station = Station(mosquitto.port)
    try:
        good = parcel("st1", 1)
        long_station = "x" * 2000
        station.publish(f"{PREFIX}/{SITE}/bad station/parcel", good.to_json())
        station.publish(f"{PREFIX}/{SITE}/{long_station}/parcel", good.to_json())
        station.publish(topic("st1", "status"), b"", retain=True)  # retiring a station
        station.publish(topic("st1", "parcel"), good.to_json())
        wait_for(lambda: good.event_id in station.acked, 10, what="the good event")
        rows = query(db, "SELECT topic, reason, station FROM dead_letters ORDER BY id")
        assert [r[1][:24] for r in rows] == ["bad topic: invalid stati"] * 2
        assert len(rows[1][0]) == 512 and len(rows[1][1]) <= 512
        assert rows[0][2] is None
    finally:
        station.close()


POISON_SQL = {  # a real constraint in each backend that refuses one barcode
    "sqlite": [
        "CREATE TRIGGER poison BEFORE INSERT ON parcels WHEN NEW.barcode = 'POISON'"
        " BEGIN SELECT RAISE(ABORT, 'poison barcode'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " RAISE EXCEPTION 'poison barcode' USING ERRCODE = 'check_violation'; END $$",
        "CREATE TRIGGER poison BEFORE INSERT ON parcels FOR EACH ROW"
        " WHEN (NEW.barcode = 'POISON') EXECUTE FUNCTION poison()",
    ],
}


def test_a_message_the_store_refuses_is_dead_lettered_alone(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    db = as_target(store_target)
    with Store(store_target) as store:
        for sql in POISON_SQL[store.conn.dialect]:
            store.conn.execute(sql)
    gateways(write_config(tmp_path, mosquitto.url, stations=1, flush_when_idle=False,
                          batch_ms=300, database=store_target))  # fmt: skip
    station = Station(mosquitto.port)
    try:
        events = [parcel("st1", 1), parcel("st1", 2, code="POISON"), parcel("st1", 3)]
        station.publish_many([(topic("st1", "parcel"), e.to_json()) for e in events])
        wait_for(lambda: counter(db, "dead_letters_total") == 1, 10, what="the dead letter")
        wait_for(lambda: len(station.acked) == 2, 5, what="acks for the good ones")
        assert station.acked == {events[0].event_id, events[2].event_id}
        assert query(db, "SELECT seq FROM parcels ORDER BY seq") == [(1,), (3,)]
        (reason,) = query(db, "SELECT reason FROM dead_letters")[0]
        refused = {"sqlite": "IntegrityError", "postgresql": "CheckViolation"}[store.conn.dialect]
        assert reason.startswith(f"store refused it: {refused}: poison barcode")
        late = parcel("st1", 4)
        station.publish(topic("st1", "parcel"), late.to_json())
        wait_for(lambda: late.event_id in station.acked, 5, what="ingest goes on")
    finally:
        station.close()
