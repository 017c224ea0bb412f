"""The whole agent in-process: screen and outbox work with no broker; device states reach status."""

import json
import threading
import urllib.request
from pathlib import Path

from dockscan.config import parse_config
from dockscan.events import StationStatus
from dockscan.topics import Topics
from edge.agent import EdgeAgent
from tests.edge.peer import Watcher
from tests.support.broker import Mosquitto, free_port, wait_for


def site(tmp_path: Path, url: str) -> dict:
    return {
        "site": {"id": "s1"},
        "broker": {"url": url, "keepalive_s": 2},
        "stations": [
            {"id": "st1", "dock": "d1", "outbox": str(tmp_path / "o.db"),
             "screen_bind": "127.0.0.1:0"}
        ],
    }  # fmt: skip


def test_capture_and_screen_work_while_the_broker_is_down(tmp_path: Path) -> None:
    cfg = parse_config(site(tmp_path, f"mqtt://127.0.0.1:{free_port()}"))  # nothing listens
    agent = EdgeAgent(cfg, "st1", synthetic_rate=500, synthetic_count=20)
    runner = threading.Thread(target=agent.run)
    runner.start()
    try:
        wait_for(lambda: agent.outbox.depth == 20, 10, what="20 events kept in the outbox")
        assert agent.screen is not None
        with urllib.request.urlopen(agent.screen.url + "state", timeout=5) as resp:
            state = json.loads(resp.read())
        assert state["last"]["outcome"] == "OK" and state["last"]["seq"] == 20
        assert state["link"]["connected"] is False
    finally:
        agent.stop_event.set()
        runner.join(15)
    assert not runner.is_alive()


def test_device_state_changes_update_the_retained_status(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    cfg = parse_config(site(tmp_path, mosquitto.url))
    watcher = Watcher(mosquitto.port, Topics().status("s1", "st1"))
    agent = EdgeAgent(cfg, "st1")
    runner = threading.Thread(target=agent.run)
    runner.start()
    try:
        wait_for(lambda: agent.publisher.connected, 10, what="connect")
        agent.station.on_device_state("cam1", "camera", "stalled", "no frames for 5 s")
        stalled = lambda: [  # noqa: E731
            s for s in watcher.payloads(StationStatus) if "cam1" in s.devices
        ]
        status = wait_for(stalled, 10, what="status with the device")[-1]
        assert status.state == "online" and status.devices["cam1"].state == "stalled"
        assert status.devices["cam1"].reason == "no frames for 5 s"
    finally:
        agent.stop_event.set()
        runner.join(15)
        watcher.close()
    assert watcher.payloads(StationStatus)[-1].state == "offline"
