"""Fault injection over real processes; every scenario ends with exact counts."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.station_sim import SimulatedStation, StationMix, StationTiming
from tests.support.broker import Mosquitto, free_port, wait_for
from tests.support.chain import Chain, read_sql
from tests.support.proxy import CuttableProxy
from tests.support.stations import camera_station

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.fixture
def chain(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Chain]:
    c = Chain(tmp_path, mosquitto)
    yield c
    c.close()


def state_of(chain: Chain, sid: str) -> tuple[str, int] | None:
    """Return (state, session) of a station as the gateway stores it."""
    rows = read_sql(chain.db, "SELECT state, session FROM stations WHERE id=?", (sid,))
    return rows[0] if rows else None


def test_broker_sigkill_during_stream(chain: Chain, mosquitto: Mosquitto) -> None:
    chain.start_gateway()
    chain.start_edge("st01", count=3000, rate=500)
    chain.wait_accepted("st01", 1000)
    mosquitto.kill()
    time.sleep(0.5)
    mosquitto.start()
    chain.wait_delivered("st01", 3000)
    chain.record("broker SIGKILL and restart", chain.assert_exactly_once("st01", 3000))


def test_broker_restarted_with_persistence_deleted(chain: Chain, mosquitto: Mosquitto) -> None:
    chain.start_gateway()
    chain.start_edge("st01", count=3000, rate=500)
    chain.wait_accepted("st01", 1500)
    mosquitto.kill()
    mosquitto.delete_persistence()
    mosquitto.start()
    chain.wait_delivered("st01", 3000)
    chain.record("broker restarted, persistence deleted", chain.assert_exactly_once("st01", 3000))


def test_gateway_sigkill_and_restart(chain: Chain) -> None:
    chain.start_gateway()
    chain.start_edge("st01", count=3000, rate=500)
    chain.wait_accepted("st01", 1200)
    chain.procs.kill("gateway")
    time.sleep(1.0)
    chain.start_gateway()
    chain.wait_delivered("st01", 3000)
    chain.record("gateway SIGKILL and restart", chain.assert_exactly_once("st01", 3000))
    assert chain.assert_one_verdict_each() == 3000  # the reconciler died with it: none lost


def test_gateway_stopped_through_ten_minutes_of_traffic(chain: Chain) -> None:
    """6,000 events = 10 minutes of a busy station at 10/s, produced while the gateway is down."""
    chain.start_gateway()
    wait_for(lambda: state_of(chain, "st01"), 20, 0.1, "gateway up")
    assert chain.procs.stop("gateway") == 0
    chain.start_edge("st01", count=6000, rate=2000)
    chain.wait_accepted("st01", 6000)
    assert chain.stored("st01") == []
    started = time.monotonic()
    chain.start_gateway()
    chain.wait_delivered("st01", 6000, timeout=240)
    drain_s = time.monotonic() - started
    figures = chain.assert_exactly_once("st01", 6000)
    assert chain.stored("st01") == list(range(1, 6001)), "order by seq recovers the stream"
    chain.record("gateway stopped for 10 min of traffic", figures, drain_s=round(drain_s, 1))


def test_edge_sigkill_and_restart_twice(chain: Chain) -> None:
    chain.start_gateway()
    chain.start_edge("st01", count=4000, rate=500)
    for at in (1000, 2000):
        chain.wait_accepted("st01", at)
        chain.procs.kill("edge-st01")
        chain.start_edge("st01", count=4000 - chain.accepted("st01"), rate=500)
    chain.wait_accepted("st01", 4000)
    chain.wait_delivered("st01", 4000)
    chain.record("edge SIGKILL and restart (x2)", chain.assert_exactly_once("st01", 4000))


def test_network_cut_longer_than_keepalive(tmp_path: Path, mosquitto: Mosquitto) -> None:
    proxy = CuttableProxy(mosquitto.port).start()
    chain = Chain(tmp_path, mosquitto, keepalive=2, edge_broker_port=proxy.port)
    try:
        chain.start_gateway()
        chain.start_edge("st01", count=3000, rate=300)
        wait_for(lambda: (state_of(chain, "st01") or ("", 0))[0] == "online", 20, 0.1, "online")
        session = state_of(chain, "st01")[1]
        chain.wait_accepted("st01", 600)
        proxy.cut()
        wait_for(lambda: state_of(chain, "st01")[0] == "offline", 15, 0.1, "offline (Will)")
        time.sleep(3.0)  # well past the keepalive: the edge keeps accepting into its outbox
        accepted_during_cut = chain.accepted("st01")
        proxy.restore()
        wait_for(lambda: state_of(chain, "st01")[0] == "online", 30, 0.1, "online again")
        assert state_of(chain, "st01")[1] > session
        chain.wait_delivered("st01", 3000)
        figures = chain.assert_exactly_once("st01", 3000)
        chain.record("network cut > keepalive", figures, accepted_during_cut=accepted_during_cut)
    finally:
        chain.close()
        proxy.close()


def device_intervals(chain: Chain, sid: str, device: str) -> list[tuple[str, int | None]]:
    """Return (state, end_ms) of a device's recorded state intervals, oldest first."""
    sql = ("SELECT state, end_ms FROM station_events WHERE station=? AND kind='device' "
           "AND device=? ORDER BY id")  # fmt: skip
    return read_sql(chain.db, sql, (sid, device))


def test_scale_unplugged_and_scanner_garbage(tmp_path: Path, mosquitto: Mosquitto) -> None:
    devices = (
        '[[stations.devices]]\nkind = "scale"\nid = "scale"\nprotocol = "mt-sics"\n'
        f'port = "{tmp_path / "scale"}"\nsettle_ms = 200\n'
        f'[[stations.devices]]\nkind = "scanner"\nid = "scanner"\nport = "{tmp_path / "scan"}"\n'
    )
    chain = Chain(tmp_path, mosquitto, extra_station=devices)
    sim = SimulatedStation.on_links(
        tmp_path / "scale", tmp_path / "scan", seed=7, count=24,
        timing=StationTiming(interval=(0.8, 0.8)), mix=StationMix(0, 0, 0),
    )  # fmt: skip
    try:
        chain.start_gateway()
        sim.start()
        chain.start_edge("st01")
        chain.wait_accepted("st01", 6, timeout=30)
        sim.scale.unplug()
        for _ in range(5):
            sim.scanner.send(b"\x00\xff\x1b[2J<garbage>\x07\r")
        wait_for(lambda: ("disconnected", None) in device_intervals(chain, "st01", "scale"),
                 15, 0.1, "scale disconnected at the gateway")  # fmt: skip
        time.sleep(1.5)
        sim.scale.replug()
        wait_for(lambda: device_intervals(chain, "st01", "scale")[-1] == ("ok", None),
                 15, 0.1, "scale ok again")  # fmt: skip
        assert sim.done.wait(60)
        time.sleep(2.0)  # the last pairing window closes
        accepted = chain.accepted("st01")
        chain.wait_delivered("st01", accepted)
        figures = chain.assert_exactly_once("st01", accepted)
        assert chain.procs.children["edge-st01"].poll() is None, "the agent survived"
        outcomes = dict(read_sql(chain.db, "SELECT outcome, count(*) FROM parcels GROUP BY 1"))
        assert outcomes.get("OK", 0) >= 15, outcomes
        chain.record("scale unplugged 1.5 s + scanner garbage", figures, sim_parcels=24,
                     ok=outcomes.get("OK", 0))  # fmt: skip
    finally:
        sim.stop()
        chain.close()


def test_edge_outbox_disk_full_block(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A 0.1 MB outbox fills while no gateway acks: refused and reported, nothing accepted lost."""
    import json

    from dockscan.topics import Topics
    from tests.support.mqttc import TestClient

    chain = Chain(tmp_path, mosquitto, extra_station="outbox_max_mb = 0.1\n")
    watcher = TestClient(mosquitto.port, "outbox-watcher")
    meta = "SELECT value FROM outbox_meta WHERE key='refused'"
    refused = lambda: sum(v for (v,) in read_sql(chain.outbox("st01"), meta))  # noqa: E731
    statuses: list[dict] = []

    def outbox_device(state: str) -> dict | None:
        """Return the outbox device of the newest status published, if it is in `state`."""
        statuses.extend(json.loads(m.payload) for m in watcher.received(0.05) if m.payload)
        device = statuses[-1]["devices"].get("outbox") if statuses else None
        return device if device and device["state"] == state else None

    try:
        assert watcher.connect(), "watcher could not connect"
        watcher.subscribe(Topics().status("LGG", "st01"))
        chain.start_edge("st01", count=3000, rate=200)
        wait_for(lambda: refused() > 0, 30, 0.1, "the full outbox to refuse an event")
        fault = wait_for(lambda: outbox_device("fault"), 15, 0.1, "the fault in the status")
        assert fault["kind"] == "outbox" and "outbox at 0.1 MB cap" in fault["reason"], fault
        accepted_when_full = chain.accepted("st01")
        chain.start_gateway()
        wait_for(lambda: device_intervals(chain, "st01", "outbox")[-1:] == [("ok", None)],
                 60, 0.1, "the outbox fault cleared at the gateway")  # fmt: skip
        assert device_intervals(chain, "st01", "outbox")[0][0] == "fault"
        wait_for(lambda: chain.accepted("st01") + refused() == 3000, 60, 0.1, "the load to end")
        accepted = chain.accepted("st01")
        assert accepted > accepted_when_full and refused() > 0
        chain.wait_delivered("st01", accepted)
        figures = chain.assert_exactly_once("st01", accepted)
        assert wait_for(lambda: outbox_device("ok"), 5, 0.1, "ok in the status")["reason"] == ""
        assert chain.procs.children["edge-st01"].poll() is None, "the agent survived"
        chain.record("edge outbox disk full (block)", figures, offered=3000, refused=refused(),
                     accepted_when_full=accepted_when_full)  # fmt: skip
    finally:
        watcher.close()
        chain.close()


def test_camera_stream_stalls_and_recovers(tmp_path: Path, mosquitto: Mosquitto) -> None:
    port = free_port()
    devices = camera_station(tmp_path, port).replace("fps = 6\n", "fps = 6\nstall_after_s = 1.0\n")
    chain = Chain(tmp_path, mosquitto, extra_station=devices)
    sim = SimulatedStation.on_links(
        tmp_path / "scale", None, camera_port=port, seed=5, count=20,
        timing=StationTiming(interval=(1.2, 1.2)), mix=StationMix(0, 0, 0),
    )  # fmt: skip
    try:
        chain.start_gateway()
        chain.wait_gateway()
        sim.start()
        chain.start_edge("st01")
        chain.wait_accepted("st01", 3, timeout=30)
        sim.camera.server.fps = 0.25  # the stream stays open but goes quiet: a frame every 4 s
        wait_for(lambda: ("stalled", None) in device_intervals(chain, "st01", "camera"),
                 20, 0.1, "camera stalled at the gateway")  # fmt: skip
        sim.camera.server.fps = 6.0
        wait_for(lambda: device_intervals(chain, "st01", "camera")[-1] == ("ok", None),
                 30, 0.1, "camera ok again")  # fmt: skip
        recovered_ms = time.time() * 1000
        assert sim.done.wait(60)
        time.sleep(3.5)  # the last pairing window closes
        accepted = chain.accepted("st01")
        chain.wait_delivered("st01", accepted)
        figures = chain.assert_exactly_once("st01", accepted)
        outcomes = dict(read_sql(chain.db, "SELECT outcome, count(*) FROM parcels GROUP BY 1"))
        later = "SELECT count(*) FROM parcels WHERE outcome = 'OK' AND ts_ms > ?"
        assert read_sql(chain.db, later, (recovered_ms,))[0][0] >= 3, outcomes  # reads resume
        chain.record("camera stream stalls, then recovers", figures, sim_parcels=20,
                     ok=outcomes.get("OK", 0), no_read=outcomes.get("NO_READ", 0))  # fmt: skip
    finally:
        sim.stop()
        chain.close()
