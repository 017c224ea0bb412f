"""The reconciler process beside `dockscan gateway run`, on both stores: SIGKILLs lose nothing.

Parcels are committed while the reconciler is held (SIGSTOP); killing it and the gateway then
leaves them queued, and the next gateway's reconciler judges and publishes each exactly once.
"""

import os
import signal
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from dockscan.codes import s10_with_check
from dockscan.hub_events import VerdictBatch
from tests.gateway.ingest_support import (
    PREFIX,
    SITE,
    StartGateway,
    Station,
    as_target,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    parcel,
    query,
    topic,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for


class VerdictListener:
    """A station's subscriber to every verdict topic, counting each verdict it receives."""

    def __init__(self, port: int) -> None:
        self.seen: list[str] = []
        self.sizes: list[int] = []  # verdicts per message
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="verdicts")
        self.client.on_message = self._on_message
        granted = threading.Event()
        self.client.on_subscribe = lambda *_: granted.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{PREFIX}/{SITE}/+/verdict", qos=1)
        self.client.loop_start()
        assert granted.wait(5), "no SUBACK"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        batch = VerdictBatch.model_validate_json(msg.payload)
        with self.lock:
            self.seen += [v.event_id for v in batch.verdicts]
            self.sizes.append(len(batch.verdicts))

    def count(self) -> int:
        """Return how many verdicts arrived."""
        with self.lock:
            return len(self.seen)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def gone(pid: int) -> bool:
    """Return whether a process has exited (a zombie nobody reaped counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def codes(n: int) -> list[str]:
    """Return n distinct valid S10 ids."""
    return [s10_with_check("RR", 60_000_000 + i, "CN") for i in range(n)]


def test_parcels_committed_before_a_sigkill_get_their_verdict_once(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=2, database=store_target)
    db = as_target(store_target)
    gw = gateways(cfg)
    reconciler = wait_for(lambda: gw.children(), 10, what="the reconciler child")[0]
    listener, station = VerdictListener(mosquitto.port), Station(mosquitto.port)
    try:
        os.kill(reconciler, signal.SIGSTOP)  # judging held: parcels commit, verdicts wait
        events = [parcel(f"st{1 + i % 2}", i // 2, code) for i, code in enumerate(codes(300))]
        station.publish_many([(topic(e.station, "parcel"), e.to_json()) for e in events])
        wait_for(lambda: len(station.acked) == 300, 20, what="every parcel acknowledged")
        assert query(db, "SELECT count(*) FROM verdicts") == [(0,)]
        assert query(db, "SELECT coalesce(sum(parcels), 0) FROM verdict_queue") == [(300,)]
        os.kill(reconciler, signal.SIGKILL)
        gw.kill()  # the gateway too: nothing but the store knows about the 300
        again = gateways(cfg)
        wait_for(lambda: listener.count() >= 300, 20, what="every verdict published")
        assert sorted(listener.seen) == sorted(e.event_id for e in events)  # once each
        rows = query(db, "SELECT count(*), count(DISTINCT event_id) FROM verdicts")
        assert rows == [(300, 300)]
        assert query(db, "SELECT count(*) FROM verdict_queue") == [(0,)]
        assert again.stop() == 0
    finally:
        listener.close()
        station.close()


def test_a_queue_row_of_a_big_batch_is_published_in_messages_of_at_most_1000(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=1, database=store_target,
                       batch_size=3000, batch_ms=3000, flush_when_idle=False)  # fmt: skip
    db = as_target(store_target)
    gw = gateways(cfg)
    reconciler = wait_for(lambda: gw.children(), 10, what="the reconciler child")[0]
    listener, station = VerdictListener(mosquitto.port), Station(mosquitto.port)
    try:
        os.kill(reconciler, signal.SIGSTOP)
        events = [parcel("st1", i, code) for i, code in enumerate(codes(2500))]
        station.publish_many([(topic("st1", "parcel"), e.to_json()) for e in events])
        wait_for(lambda: len(station.acked) == 2500, 30, what="every parcel acknowledged")
        assert query(db, "SELECT count(*), max(parcels) FROM verdict_queue") == [(1, 2500)]
        os.kill(reconciler, signal.SIGCONT)
        wait_for(lambda: listener.count() >= 2500, 30, what="every verdict published")
        assert sorted(listener.seen) == sorted(e.event_id for e in events)  # once each
        assert sorted(listener.sizes) == [500, 1000, 1000]
        assert query(db, "SELECT count(*) FROM verdicts") == [(2500,)]
        assert gw.stop() == 0
    finally:
        listener.close()
        station.close()


def test_a_killed_reconciler_is_started_again_and_stops_with_the_gateway(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=1)
    db = tmp_path / "gw.db"
    gw = gateways(cfg)
    first = wait_for(lambda: gw.children(), 10, what="the reconciler child")[0]
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: [p for p in gw.children() if p != first], 10, what="a new one")[0]
    station = Station(mosquitto.port)
    try:
        events = [parcel("st1", i, code) for i, code in enumerate(codes(50))]
        station.publish_many([(topic("st1", "parcel"), e.to_json()) for e in events])
        wait_for(lambda: query(db, "SELECT count(*) FROM verdicts") == [(50,)], 20, what="verdicts")
        assert "the reconcile process exited with -9; starting it again" in gw.log.read_text()
        # Stopped with the gateway: the ingest's last batch is judged before it exits.
        late = [parcel("st1", 50 + i, code) for i, code in enumerate(codes(60)[50:])]
        station.publish_many([(topic("st1", "parcel"), e.to_json()) for e in late])
        assert gw.stop() == 0
        stored = query(db, "SELECT count(*) FROM parcels")
        assert stored == query(db, "SELECT count(*) FROM verdicts") and stored[0][0] > 50
        assert gone(second)
    finally:
        station.close()


def test_an_orphaned_reconciler_exits(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway
) -> None:
    gw = gateways(write_config(tmp_path, mosquitto.url, stations=1))
    child = wait_for(lambda: gw.children(), 10, what="the reconciler child")[0]
    gw.kill()  # SIGKILL to the gateway alone, as a crash would
    wait_for(lambda: gone(child), 10, what="the orphan gone")
