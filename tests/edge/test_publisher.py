"""The publisher and outbox against a real Mosquitto, with a peer that acks like the gateway."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockscan.config import BrokerConfig, StationConfig
from dockscan.events import CommandResult, StationStatus, Telemetry
from dockscan.topics import Topics
from edge.outbox import Outbox
from edge.publisher import Publisher
from tests.edge.peer import AckingPeer, Watcher
from tests.support.broker import Mosquitto, wait_for

TOPICS = Topics()


def add_events(outbox: Outbox, n: int) -> list[str]:
    """Commit n minimal parcel payloads; return their event ids."""
    ids = []
    for _ in range(n):
        row = outbox.add(TOPICS.parcel("s1", "st1"), _payload)
        ids.append(row.event_id)
    return ids


def _payload(seq: int, event_id: str) -> bytes:
    return json.dumps(
        {"schema": "dockscan.parcel/1", "event_id": event_id, "seq": seq, "site": "s1",
         "dock": "d1", "station": "st1", "ts": "2026-11-27T10:00:00.000Z", "outcome": "NO_READ",
         "agent_version": "test"}
    ).encode()  # fmt: skip


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.db")
    yield box
    box.close()


def publisher_for(
    broker: Mosquitto, outbox: Outbox, protocol: str = "5", **station: object
) -> Publisher:
    cfg = StationConfig(id="st1", dock="d1", **station)
    bcfg = BrokerConfig(url=broker.url, protocol=protocol, keepalive_s=2)
    return Publisher("s1", cfg, bcfg, outbox)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_events_delivered_in_order_and_deleted_on_ack(
    mosquitto: Mosquitto, outbox: Outbox, protocol: str
) -> None:
    peer = AckingPeer(mosquitto.port)
    ids = add_events(outbox, 300)
    pub = publisher_for(mosquitto, outbox, protocol, window=50)
    pub.start()
    try:
        wait_for(lambda: outbox.depth == 0, 15, what="outbox drained by acks")
        assert set(peer.stored) == set(ids)
        assert peer.order == sorted(peer.order)
        assert pub.counters["acked"] == 300
    finally:
        pub.stop()
        peer.close()


def test_kept_until_ack_and_resent_after_timeout(mosquitto: Mosquitto, outbox: Outbox) -> None:
    peer = AckingPeer(mosquitto.port, ack=False)
    ids = add_events(outbox, 20)
    pub = publisher_for(mosquitto, outbox, ack_timeout_s=0.5)
    pub.start()
    try:
        wait_for(lambda: len(peer.stored) == 20, 10, what="first delivery")
        wait_for(lambda: min(peer.received.values()) >= 3, 10, what="re-sends without ack")
        stats = outbox.stats()
        assert (stats.depth, stats.sent) == (20, 20)  # PUBACKed, still kept
        assert pub.counters["resent"] >= 40
        peer.ack_all_stored()
        wait_for(lambda: outbox.depth == 0, 10, what="delete on late ack")
        assert set(peer.stored) == set(ids)
    finally:
        pub.stop()
        peer.close()


def test_window_bounds_what_is_in_flight(mosquitto: Mosquitto, outbox: Outbox) -> None:
    peer = AckingPeer(mosquitto.port, ack=False)
    add_events(outbox, 100)
    pub = publisher_for(mosquitto, outbox, window=10, ack_timeout_s=30)
    pub.start()
    try:
        wait_for(lambda: len(peer.stored) == 10, 10, what="one window")
        time.sleep(0.5)
        assert len(peer.stored) == 10
        peer.ack_all_stored()
        wait_for(lambda: len(peer.stored) >= 20, 10, what="the next window after acks")
    finally:
        pub.stop()
        peer.close()


def test_survives_broker_kill_and_restart(mosquitto: Mosquitto, outbox: Outbox) -> None:
    peer = AckingPeer(mosquitto.port)
    status = Watcher(mosquitto.port, TOPICS.status("s1", "st1"))
    pub = publisher_for(mosquitto, outbox, ack_timeout_s=2)
    ids = add_events(outbox, 50)
    pub.start()
    try:
        wait_for(lambda: pub.connected, 10, what="connect")
        first = pub.session
        mosquitto.kill()
        wait_for(lambda: not pub.connected, 10, what="link lost")
        ids += add_events(outbox, 100)  # captured while the broker is down
        mosquitto.restart()
        wait_for(lambda: outbox.depth == 0, 30, what="delivery after restart")
        assert set(ids) <= set(peer.stored)
        assert pub.session > first
        wait_for(
            lambda: any(
                s.state == "online" and s.session == pub.session
                for s in status.payloads(StationStatus)
            ),
            10,
            what="online status with the new session",
        )
    finally:
        pub.stop()
        peer.close()
        status.close()


def test_status_online_then_explicit_offline_with_rising_session(
    mosquitto: Mosquitto, outbox: Outbox
) -> None:
    watcher = Watcher(mosquitto.port, TOPICS.status("s1", "st1"))
    sessions = []
    for _ in range(2):
        pub = publisher_for(mosquitto, outbox)
        pub.start()
        wait_for(lambda pub=pub: pub.connected, 10, what="connect")
        sessions.append(pub.session)
        pub.stop()
    wait_for(lambda: len(watcher.payloads(StationStatus)) >= 4, 10, what="four statuses")
    got = [(s.state, s.session, s.reason) for s in watcher.payloads(StationStatus)]
    assert got == [
        ("online", sessions[0], ""),
        ("offline", sessions[0], "shutdown"),
        ("online", sessions[1], ""),
        ("offline", sessions[1], "shutdown"),
    ]
    assert sessions[1] > sessions[0]
    watcher.close()


def test_telemetry_reports_depth_and_age(mosquitto: Mosquitto, outbox: Outbox) -> None:
    watcher = Watcher(mosquitto.port, TOPICS.telemetry("s1", "st1"))
    add_events(outbox, 5)  # no gateway: they stay
    pub = publisher_for(mosquitto, outbox, telemetry_interval_s=0.3)
    pub.start()
    try:
        wait_for(lambda: len(watcher.payloads(Telemetry)) >= 2, 10, what="telemetry")
        last = watcher.payloads(Telemetry)[-1]
        assert last.outbox_depth == 5 and last.oldest_pending_age_s is not None
        assert last.counters["mqtt_published"] >= 5 and last.session == pub.session
        assert last.counters["outbox_dropped"] == 0 == last.counters["outbox_refused"]
    finally:
        pub.stop()
        watcher.close()


def test_commands_are_answered(mosquitto: Mosquitto, outbox: Outbox) -> None:
    from edge.commands import CommandHandler, CommandRunner

    watcher = Watcher(mosquitto.port, TOPICS.reply("s1", "st1"))
    pub = publisher_for(mosquitto, outbox)
    pub.commands = CommandRunner(CommandHandler([], pub.request_resend), pub.reply)
    pub.commands.start()
    pub.start()
    try:
        wait_for(lambda: pub.connected, 10, what="connect")
        time.sleep(0.3)  # subscriptions in place
        sender = Watcher(mosquitto.port, "unused/#")
        head = '{"schema":"dockscan.command/1","ts":"2026-11-27T10:00:00Z","request_id":'
        for name, body in [
            ("resend", head + '"r1"}'),
            ("zero", head + '"r2"}'),
            ("reload", head + '"r3"}'),
            ("tare", '{"request_id":"r4","nonsense":1}'),
        ]:
            sender.client.publish(TOPICS.cmd("s1", "st1", name), body, qos=1)
        wait_for(lambda: len(watcher.payloads(CommandResult)) == 4, 10, what="four replies")
        replies = {r.request_id: r for r in watcher.payloads(CommandResult)}
        assert replies["r1"].ok and "re-sending" in replies["r1"].detail
        assert not replies["r2"].ok and "no scale" in replies["r2"].detail
        assert not replies["r3"].ok and "unknown command" in replies["r3"].detail
        assert not replies["r4"].ok and "bad command" in replies["r4"].detail
        sender.close()
    finally:
        pub.stop()
        pub.commands.stop()
        watcher.close()


def write_config(tmp_path: Path, broker: Mosquitto) -> Path:
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        f'[site]\nid = "s1"\n[broker]\nurl = "{broker.url}"\nkeepalive_s = 2\n'
        f'[[stations]]\nid = "st1"\ndock = "d1"\noutbox = "{tmp_path}/agent-outbox.db"\n'
    )
    return cfg


def agent(cfg: Path, *extra: str) -> subprocess.Popen:
    """Start `dockscan edge run` for st1, logging next to the config."""
    with open(cfg.parent / "agent.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dockscan", "edge", "run", "-c", str(cfg), "--station", "st1",
             *extra],
            stdout=log,
            stderr=log,
        )  # fmt: skip


def test_will_is_published_when_the_agent_is_killed(mosquitto: Mosquitto, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, mosquitto)
    watcher = Watcher(mosquitto.port, TOPICS.status("s1", "st1"))
    proc = agent(cfg)
    try:
        online = lambda: [s for s in watcher.payloads(StationStatus) if s.state == "online"]  # noqa: E731
        first = wait_for(online, 20, what="online status")[-1].session
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        killed_at = time.monotonic()
        wait_for(
            lambda: watcher.payloads(StationStatus)[-1].state == "offline", 10, what="the Will"
        )
        assert time.monotonic() - killed_at < 2 * 1.5 + 2  # within the keepalive window
        will = watcher.payloads(StationStatus)[-1]
        assert (will.session, will.reason) == (first, "connection lost")
        proc = agent(cfg)
        wait_for(lambda: online()[-1].session > first, 20, what="online with a higher session")
        retained = Watcher(mosquitto.port, TOPICS.status("s1", "st1"))
        wait_for(lambda: retained.payloads(StationStatus), 10, what="retained status")
        assert retained.payloads(StationStatus)[0].state == "online"
        retained.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        watcher.close()


def test_agent_synthetic_load_is_delivered_and_exits(mosquitto: Mosquitto, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, mosquitto)
    peer = AckingPeer(mosquitto.port)
    proc = agent(cfg, "--synthetic-count", "300", "--synthetic-rate", "500", "--exit-when-drained")
    try:
        assert proc.wait(30) == 0, (tmp_path / "agent.log").read_text()
        assert len(peer.stored) == 300
        assert sorted(e.seq for e in peer.stored.values()) == list(range(1, 301))
        out = subprocess.run(
            [sys.executable, "-m", "dockscan", "edge", "outbox", "-c", str(cfg), "--station",
             "st1", "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        stats = json.loads(out.stdout)
        assert (stats["depth"], stats["next_seq"]) == (0, 301)
    finally:
        if proc.poll() is None:
            proc.kill()
        peer.close()


def test_slow_broker_does_not_grow_pahos_queue(mosquitto: Mosquitto, outbox: Outbox) -> None:
    """Rows still waiting for a PUBACK are not queued again at every ack timeout."""
    peer = AckingPeer(mosquitto.port)
    add_events(outbox, 200)
    pub = publisher_for(mosquitto, outbox, window=50, ack_timeout_s=0.3)
    pub.start()
    try:
        wait_for(lambda: pub.connected, 10, what="connect")
        os.kill(mosquitto.proc.pid, signal.SIGSTOP)  # the broker hangs: no PUBACK, no ack
        try:
            time.sleep(1.2)  # four ack timeouts, still inside the keepalive
            assert pub.client is not None
            assert len(pub.client._out_messages) <= 50, "paho holds at most one window"
            assert pub.counters["held_by_paho"] > 0
        finally:
            os.kill(mosquitto.proc.pid, signal.SIGCONT)
        wait_for(lambda: outbox.depth == 0, 30, what="everything delivered after the stall")
        assert len(peer.stored) == 200
    finally:
        pub.stop()
        peer.close()
