"""Station liveness: session-ordered status, stale on silence, device intervals, seq gaps."""

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from dockscan.events import DeviceState, StationStatus, Telemetry
from dockscan.ids import utcnow
from gateway import liveness
from gateway.clock import now_ms
from gateway.store import Batch, Store, transaction
from tests.gateway.ingest_support import (
    SITE,
    StartGateway,
    Station,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    parcel,
    query,
    topic,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    """A fresh store on each backend, closed after the test."""
    with Store(store_target) as s:
        yield s


def status(state: str, session: int, **devices: str) -> StationStatus:
    """Return a status of station st1."""
    devs = {k: DeviceState(kind="scale", state=v, since=utcnow()) for k, v in devices.items()}
    return StationStatus(
        site=SITE, station="st1", dock="d1", state=state, session=session, ts=utcnow(),
        version="1", devices=devs,
    )  # fmt: skip


def telemetry(session: int, interval_s: float = 1.0, **devices: str) -> Telemetry:
    """Return telemetry of station st1."""
    devs = {
        k: DeviceState(kind="scale", state=v, reason=f"{v}!", since=utcnow())
        for k, v in devices.items()
    }
    return Telemetry(
        site=SITE, station="st1", ts=utcnow(), session=session, interval_s=interval_s,
        counters={"parcels": 3}, devices=devs, outbox_depth=2,
    )  # fmt: skip


def apply(store: Store, *signals: StationStatus | Telemetry, at: int | None = None) -> None:
    """Write status/telemetry messages through the normal batch path."""
    store.write(Batch(signals=[(s, at or now_ms()) for s in signals]))


def state_events(store: Store) -> list[tuple[str, str, bool]]:
    """Return (state, reason, open) of st1's state intervals in order."""
    rows = store.conn.execute(
        "SELECT state, reason, end_ms IS NULL FROM station_events"
        " WHERE station = 'st1' AND kind = 'state' ORDER BY id"
    )
    return [(s, r, bool(o)) for s, r, o in rows]


def station_row(store: Store) -> tuple:
    """Return (state, session) of st1."""
    return store.conn.execute("SELECT state, session FROM stations WHERE id = 'st1'").fetchone()


def test_older_offline_never_overrides_newer_online(store: Store) -> None:
    apply(store, status("online", 4))
    apply(store, status("offline", 3))  # the Will of the previous session, delivered late
    assert station_row(store) == ("online", 4)
    apply(store, status("offline", 4))
    assert station_row(store) == ("offline", 4)
    apply(store, status("online", 4))  # a re-delivered online of the ended session
    assert station_row(store) == ("offline", 4)
    apply(store, status("online", 5))
    assert station_row(store) == ("online", 5)
    assert state_events(store) == [
        ("online", "", False),
        ("offline", "will", False),
        ("online", "", True),
    ]
    ends = store.conn.execute(
        "SELECT start_ms <= end_ms FROM station_events WHERE end_ms IS NOT NULL"
    ).fetchall()
    assert ends and all(ok for (ok,) in ends)


def test_stale_after_three_intervals_and_back_with_telemetry(store: Store) -> None:
    defaults = liveness.Defaults(stale_after_intervals=3)
    t0 = now_ms()
    apply(store, status("online", 1), telemetry(1, interval_s=2.0), at=t0)
    for quiet_s in (1, 5.9):
        with transaction(store.conn):
            assert liveness.check_stale(store.conn, t0 + int(quiet_s * 1000), defaults) == []
    with transaction(store.conn):
        assert liveness.check_stale(store.conn, t0 + 6100, defaults) == ["st1"]
    assert station_row(store)[0] == "stale"
    apply(store, telemetry(0), at=t0 + 6500)  # an older session's telemetry changes nothing
    assert station_row(store)[0] == "stale"
    apply(store, telemetry(1), at=t0 + 7000)
    assert station_row(store)[0] == "online"
    assert [e[0] for e in state_events(store)] == ["online", "stale", "online"]
    assert state_events(store)[1][1].startswith("no telemetry for 6.1 s")


def test_no_stale_verdict_before_the_gateway_watched_a_window(store: Store) -> None:
    t0 = now_ms()
    apply(store, status("online", 1), telemetry(1, interval_s=1.0), at=t0 - 60_000)  # long ago
    restarted = liveness.Defaults(stale_after_intervals=3, watching_since_ms=t0)
    with transaction(store.conn):
        assert liveness.check_stale(store.conn, t0 + 2000, restarted) == []
        assert liveness.check_stale(store.conn, t0 + 3100, restarted) == ["st1"]


def test_device_state_intervals(store: Store) -> None:
    apply(store, status("online", 1, scale="ok"))
    apply(store, telemetry(1, scale="ok"))  # same state: no new interval
    apply(store, telemetry(1, scale="disconnected"))
    apply(store, telemetry(1, scale="ok"))
    rows = store.conn.execute(
        "SELECT state, reason, start_ms, end_ms FROM station_events WHERE kind = 'device'"
        " ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == ["ok", "ok", "disconnected", "ok"]
    # first "ok" (status, no reason) is replaced by "ok" with a reason from telemetry
    assert [r[3] is None for r in rows] == [False, False, False, True]
    assert all(r[2] <= r[3] for r in rows if r[3] is not None)
    devices = orjson.loads(store.conn.execute("SELECT devices FROM stations").fetchone()[0])
    assert devices["scale"]["state"] == "ok"
    apply(store, status("offline", 1))
    assert store.conn.execute(
        "SELECT count(*) FROM station_events WHERE kind = 'device' AND end_ms IS NULL"
    ).fetchone() == (0,)


def test_seq_gaps_recorded_once_and_late_seq_closes_nothing(store: Store) -> None:
    t0 = now_ms()
    base = utcnow()
    events = {s: parcel("st1", s) for s in (10, 11, 12, 15, 16, 20)}
    events = {
        s: e.model_copy(update={"ts": base + timedelta(seconds=s)}) for s, e in events.items()
    }
    store.write(Batch(parcels=[(e, e.to_json(), t0) for e in events.values()]))

    def gaps(at: int) -> int:
        with transaction(store.conn):
            return liveness.check_seq_gaps(store.conn, at, grace_ms=1000)

    assert gaps(t0 + 500) == 0  # within the grace period: nothing reported yet
    assert gaps(t0 + 1500) == 5  # 13, 14, 17, 18, 19
    late = parcel("st1", 13)
    store.write(Batch(parcels=[(late, late.to_json(), t0 + 2000)]))
    assert gaps(t0 + 5000) == 0  # the late one is not a new gap, and old gaps are not re-reported
    fresh = [parcel("st1", s) for s in (21, 23)]
    store.write(Batch(parcels=[(e, e.to_json(), t0 + 6000) for e in fresh]))
    assert gaps(t0 + 8000) == 1  # 22
    rows = store.conn.execute(
        "SELECT reason FROM station_events WHERE kind = 'seq_gap' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == [
        "seq 13..14 missing (2)",
        "seq 17..19 missing (3)",
        "seq 22 missing (1)",
    ]
    assert store.conn.execute(
        "SELECT seq_gaps, last_seq FROM stations WHERE id = 'st1'"
    ).fetchone() == (6, 23)


WILL_STATION = """
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, online, will = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
topic = "dockscan/v1/T1/st1/status"
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="st1")
c.will_set(topic, will, qos=1, retain=True)
c.connect("127.0.0.1", port, keepalive=5)
c.loop_start()
c.publish(topic, online, qos=1, retain=True).wait_for_publish(5)
print("up", flush=True)
time.sleep(60)
"""


def test_liveness_over_mqtt_with_will_and_stale(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway
) -> None:
    """SQLite only: the gateway subprocess helpers (ingest_support) wait on the SQLite file."""
    cfg = write_config(tmp_path, mosquitto.url, stations=2, stale_after_intervals=2)
    db = tmp_path / "gw.db"
    gateways(cfg)
    states = lambda: [r[0] for r in query(  # noqa: E731
        db, "SELECT state FROM station_events WHERE station = 'st1' AND kind = 'state' ORDER BY id"
    )]  # fmt: skip
    station = subprocess.Popen(
        [sys.executable, "-c", WILL_STATION, str(mosquitto.port),
         status("online", 7).to_json().decode(), status("offline", 7).to_json().decode()],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert station.stdout is not None and station.stdout.readline() == b"up\n"
        wait_for(lambda: states() == ["online"], 10, what="online")
        station.kill()  # the broker publishes the Will
        station.wait(5)
        wait_for(lambda: states() == ["online", "offline"], 10, what="offline by Will")
        assert query(db, "SELECT reason FROM station_events WHERE state = 'offline'") == [("will",)]
        tester = Station(mosquitto.port)
        try:
            tester.publish(topic("st1", "status"), status("online", 8).to_json(), retain=True)
            tester.publish(topic("st1", "status"), status("offline", 7).to_json(), retain=True)
            tester.publish(topic("st1", "telemetry"), telemetry(8, interval_s=0.3).to_json(), 0)
            wait_for(lambda: query(db, "SELECT state, session FROM stations WHERE id='st1'")
                     == [("stale", 8)], 10, what="stale after 2 x 0.3 s")  # fmt: skip
            tester.publish(topic("st1", "telemetry"), telemetry(8, interval_s=5).to_json(), 0)
            wait_for(lambda: states() == ["online", "offline", "online", "stale", "online"], 10)
        finally:
            tester.close()
    finally:
        station.kill()
        station.wait(5)
        station.stdout.close()  # type: ignore[union-attr]
