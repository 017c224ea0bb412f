"""Helpers for the gateway ingest tests: site config, events, a gateway subprocess, a station."""

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.ids import utcnow, uuid7
from gateway.db import is_postgres
from tests.support.broker import wait_for
from tests.support.chain import pg_rows, read_sql

SITE = "T1"
PREFIX = "dockscan/v1"


Target = Path | str  # a SQLite path, or a postgresql:// URL (the store_target fixture's)


def as_target(database: str) -> Target:
    """Return a `gateway.database` value as query() and counter() take it."""
    return database if is_postgres(database) else Path(database)


def write_config(tmp: Path, broker_url: str, stations: int = 3, **gateway: object) -> Path:
    """Write a site config with `stations` stations and gateway overrides; return its path.

    `database=` takes a store_target (a SQLite path or a PostgreSQL URL); default tmp/gw.db.
    """
    settings = {"database": str(tmp / "gw.db"), "batch_ms": 20, "seq_gap_grace_s": 0.5}
    settings.update(gateway)
    lines = ["[site]", f'id = "{SITE}"', "[broker]", f'url = "{broker_url}"', "[gateway]"]
    lines += [f"{k} = {orjson.dumps(v).decode()}" for k, v in settings.items()]
    for i in range(1, stations + 1):
        lines += ["[[stations]]", f'id = "st{i}"', f'dock = "d{i}"', "telemetry_interval_s = 1"]
    path = tmp / "site.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def parcel(station: str, seq: int, code: str = "", **extra: object) -> ParcelEvent:
    """Return a valid parcel event from `station` with sequence number `seq`."""
    text = code or f"JJD{seq:012d}"
    return ParcelEvent(
        event_id=uuid7(),
        seq=seq,
        site=SITE,
        dock="d" + station.removeprefix("st"),
        station=station,
        ts=utcnow(),
        outcome="OK",
        barcodes=[Barcode(text=text, symbology="code128", source="cam", kind="unknown",
                          check_ok=None)],
        weight=Weight(value=1.25, device_value="1.250", device_unit="kg", stable=True,
                      raw="S S 1.250 kg", device="scale"),
        agent_version="test",
        **extra,
    )  # fmt: skip


def topic(station: str, kind: str) -> str:
    """Return a station topic of the test site."""
    return f"{PREFIX}/{SITE}/{station}/{kind}"


class Gateway:
    """`dockscan gateway run` as a real subprocess, logging to a file."""

    def __init__(self, config: Path, *args: str) -> None:
        self.config, self.args = config, args
        self.log = config.parent / "gateway.log"
        self.proc: subprocess.Popen | None = None

    @property
    def database(self) -> Target:
        """Return the store its config names (a SQLite path or a PostgreSQL URL)."""
        gw = tomllib.loads(self.config.read_text())["gateway"]
        target = str(gw.get("database", "var/gateway.db"))
        return target if is_postgres(target) else Path(target)

    @property
    def id(self) -> str:
        """Return the gateway id its config names."""
        return str(tomllib.loads(self.config.read_text())["gateway"].get("id", "gw-1"))

    def start(self) -> "Gateway":
        """Start the process and wait until it is connected and subscribed."""
        self.launch()
        db, gid = self.database, self.id
        if "--workers" in self.args:
            gid = f"{gid}-w1"

        def up() -> bool:
            return self.running and counter(db, "broker_connected", gateway=gid) == 1

        wait_for(up, 15, what="gateway")
        return self

    def launch(self) -> "Gateway":
        """Start the process without waiting for anything."""
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dockscan", "gateway", "run", "-c", str(self.config),
                 *self.args],
                stdout=fh, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    @property
    def running(self) -> bool:
        """Return whether the process is alive (it fails the test if it died)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited {self.proc.returncode}:\n{self.log.read_text()}")
        return True

    def stop(self) -> int:
        """SIGTERM the process and return its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)

    def children(self) -> list[int]:
        """Return the pids of the process's children (the reconciler), started by any thread."""
        assert self.proc is not None
        out = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                out += [int(pid) for pid in (task / "children").read_text().split()]
        return out

    def kill(self) -> None:
        """SIGKILL the process."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def counter(db: Target, name: str, gateway: str | None = None) -> float | None:
    """Return a counter from the store (summed over gateways unless one is named), or None."""
    sql = "SELECT sum(value), count(*) FROM counters WHERE name = ?"
    args: tuple = (name,)
    if gateway is not None:
        sql, args = sql + " AND gateway = ?", (name, gateway)
    rows = read_sql(db, sql, args)
    return float(rows[0][0]) if rows and rows[0][1] else None


def query(db: Target, sql: str, *args: object) -> list[tuple]:
    """Run a read query against the store (a SQLite path or a PostgreSQL URL)."""
    if isinstance(db, str) and is_postgres(db):
        return pg_rows(db, sql, args)
    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


class Station:
    """A paho client that publishes like an edge agent and records the gateway's acks."""

    def __init__(self, port: int, name: str = "tester", v5: bool = True) -> None:
        proto = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=proto)
        self.acked: set[str] = set()
        self.ack_messages = 0
        self.ack_gateways: set[str] = set()
        self.lock = threading.Lock()
        self.client.on_message = self._on_ack
        self.client.max_inflight_messages_set(200)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{PREFIX}/{SITE}/+/ack", qos=1)
        self.client.loop_start()

    def _on_ack(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        ack = orjson.loads(msg.payload)
        with self.lock:
            self.acked.update(ack["ids"])
            self.ack_gateways.add(ack["gateway"])
            self.ack_messages += 1

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has it."""
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)

    def publish_many(self, items: list[tuple[str, bytes]]) -> None:
        """Publish many QoS 1 messages and wait for all PUBACKs."""
        infos = [self.client.publish(t, p, qos=1) for t, p in items]
        for info in infos:
            info.wait_for_publish(30)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


StartGateway = Callable[..., Gateway]


@pytest.fixture(name="gateways")
def gateways_fixture() -> Iterator[StartGateway]:
    """Start `dockscan gateway run` processes; any still running are killed at teardown."""
    started: list[Gateway] = []

    def start(config: Path, *args: str) -> Gateway:
        gw = Gateway(config, *args)
        started.append(gw)
        return gw.start()

    yield start
    for gw in started:
        gw.kill()


def wait_online(port: int, gateway_ids: set[str], timeout: float = 15) -> None:
    """Wait until every gateway id has a retained `online` status (it subscribed before that)."""
    online: set[str] = set()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="online-watcher")

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        status = orjson.loads(msg.payload)
        if status["state"] == "online":
            online.add(status["gateway"])

    watcher.on_message = on_message
    watcher.connect("127.0.0.1", port)
    watcher.subscribe(f"{PREFIX}/{SITE}/gateway/+/status", qos=1)
    watcher.loop_start()
    try:
        wait_for(lambda: gateway_ids <= online, timeout, what=f"{gateway_ids} online")
    finally:
        watcher.disconnect()
        watcher.loop_stop()
