"""Holds and the outbound queue over real processes: `dockscan gateway run`, the CLI, Mosquitto.

The gateway publishes the retained hold list after CLI changes (also one made while it was
down), applies an integrator's hold request from MQTT once however often it arrives,
dead-letters bad ones, and publishes queued verdicts, marking them only after the PUBACK.
"""

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from dockscan.codes import CodeClassifier
from dockscan.hub_events import HoldList, HoldRequest, VerdictBatch
from dockscan.ids import utcnow
from gateway.clock import now_ms
from gateway.holds import set_hold
from gateway.reconcile.matcher import verdict_batch_json
from gateway.store import open_db
from tests.gateway.ingest_support import (
    PREFIX,
    SITE,
    StartGateway,
    Station,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    query,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for
from tests.support.proxy import CuttableProxy

S10, SSCC, UPS = "RR123456785CN", "340123450000000017", "1Z999AA10123456784"
HOLDS = f"{PREFIX}/{SITE}/hub/holds"
REQUESTS = f"{PREFIX}/{SITE}/hub/hold-request"
VERDICTS = f"{PREFIX}/{SITE}/st1/verdict"
MAX_PACKET = 4096


class Listener:
    """An integrator's subscriber to the retained hold list and a station's verdicts."""

    def __init__(self, port: int, name: str) -> None:
        self.lists: list[HoldList] = []
        self.retained: list[bool] = []  # the retain flag of each list received
        self.verdicts: list[VerdictBatch] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name,
                                  protocol=MQTTProtocolVersion.MQTTv5)  # fmt: skip
        self.client.on_message = self._on_message
        granted = threading.Event()
        self.client.on_subscribe = lambda *_: granted.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(HOLDS, 1), (VERDICTS, 1)])
        self.client.loop_start()
        assert granted.wait(5), "no SUBACK"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            if msg.topic == HOLDS:
                self.retained.append(msg.retain)
                self.lists.append(HoldList.model_validate_json(msg.payload))
            else:
                self.verdicts.append(VerdictBatch.model_validate_json(msg.payload))

    def latest(self, test: Callable[[dict[str, tuple[str, str]]], bool]) -> HoldList:
        """Wait for a hold list whose {id: (reason, note)} passes `test`; return it."""

        def found() -> HoldList | None:
            with self.lock:
                if self.lists and test(
                    {h.tracking_id: (h.reason, h.note) for h in self.lists[-1].holds}
                ):
                    return self.lists[-1]
            return None

        wait_for(lambda: found() is not None, 10, what="hold list")
        return found()  # type: ignore[return-value]

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def hold(config: Path, *args: str) -> None:
    """Run `dockscan gateway hold ...` as a real process."""
    cmd = [sys.executable, "-m", "dockscan", "gateway", "hold", *args, "-c", str(config)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def test_holds_reach_the_broker_and_requests_the_store(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway
) -> None:
    config = write_config(tmp_path, mosquitto.url, stations=1)
    db = tmp_path / "gw.db"
    open_db(db).close()
    hold(config, "set", "RR 123 456 785 cn", "--reason", "customs_referral", "--note", "x-ray")
    listener = Listener(mosquitto.port, "integrator")
    integrator = Station(mosquitto.port, "customs-broker")
    try:
        gateways(config)  # takes the site duties, publishes the list set while it was down
        first = listener.latest(lambda h: h.get(S10) == ("customs_referral", "x-ray"))
        started = time.monotonic()
        hold(config, "set", SSCC, "--reason", "damage")
        listener.latest(lambda h: SSCC in h)
        print(f"CLI set to retained list: {time.monotonic() - started:.2f} s (CLI start included)")
        hold(config, "release", S10)
        released = listener.latest(lambda h: S10 not in h)
        assert released.version > first.version and set(h.tracking_id for h in released.holds) == {
            SSCC
        }

        request = HoldRequest(action="set", tracking_id=UPS.lower(), reason="inspection",
                              note="seal", sender="customs-broker", ts=utcnow())  # fmt: skip
        integrator.publish(REQUESTS, request.to_json())
        listener.latest(lambda h: h.get(UPS) == ("inspection", "seal"))
        integrator.publish(REQUESTS, request.to_json())  # delivered again: writes nothing
        integrator.publish(REQUESTS, b'{"schema": "dockscan.hold-request/1", "action": "set"}')
        bad_id = request.model_copy(update={"tracking_id": "RR123456784CN"})
        integrator.publish(REQUESTS, bad_id.to_json())
        wait_for(lambda: len(query(db, "SELECT id FROM dead_letters")) == 2, 10, what="dead")
        reasons = [r[0] for r in query(db, "SELECT reason FROM dead_letters ORDER BY id")]
        assert reasons[0].startswith("missing fields: tracking_id, sender, ts"), reasons
        assert reasons[1] == "hold refused: tracking id 'RR123456784CN': S10 mod-11 check failed"
        rows = query(db, "SELECT action, reason, note, actor, source FROM hold_history"
                     " WHERE tracking_id = ?", UPS)  # fmt: skip
        assert rows == [("set", "inspection", "seal", "customs-broker", "mqtt")]
        assert query(db, "SELECT source FROM holds WHERE tracking_id = ?", UPS) == [("mqtt",)]

        late = Listener(mosquitto.port, "late-subscriber")  # the list is retained
        try:
            version = query(db, "SELECT max(id) FROM hold_history")[0][0]
            assert late.latest(lambda h: set(h) == {SSCC, UPS}).version == version
            assert late.retained == [True]
        finally:
            late.close()
    finally:
        listener.close()
        integrator.close()


def queue_verdict(db: Path, event_id: str) -> None:
    """Queue one changed verdict for st1 as a manifest import does."""
    verdict = {"event_id": event_id, "tracking_id": S10, "ts": "2026-12-01T09:00:00.000Z",
               "match": "MATCHED", "weight": "WEIGHT_OK", "revision": 1}  # fmt: skip
    payload = verdict_batch_json(SITE, "st1", "gw-1", [verdict]).decode()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO outbound (kind, station, payload, created_ms) VALUES (?, ?, ?, ?)",
            ("verdict", "st1", payload, now_ms()),
        )
    conn.close()


def test_an_outbound_row_is_marked_only_after_its_puback(
    tmp_path: Path, gateways: StartGateway
) -> None:
    broker = Mosquitto(tmp_path / "broker", extra=f"max_packet_size {MAX_PACKET}").start()
    proxy = CuttableProxy(broker.port).start()
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{proxy.port}", stations=1)
    db = tmp_path / "gw.db"
    conn = open_db(db)
    for i in range(60):  # a hold list bigger than the broker takes: logged, never sent
        set_hold(conn, f"JJD{i:015d}", "damage", "", "ana", "cli", CodeClassifier(), now_ms())
    conn.close()
    listener = Listener(broker.port, "integrator")
    try:
        gw = gateways(config)
        queue_verdict(db, "0190f5e2-0000-7000-8000-000000000001")
        wait_for(lambda: query(db, "SELECT published_ms FROM outbound")[0][0] is not None, 10,
                 what="first row marked")  # fmt: skip
        assert [b.verdicts[0].event_id[-1] for b in listener.verdicts] == ["1"]

        proxy.cut()  # the publish is lost and no PUBACK comes: the row stays unmarked
        queue_verdict(db, "0190f5e2-0000-7000-8000-000000000002")
        time.sleep(1.0)
        assert query(db, "SELECT published_ms FROM outbound WHERE id = 2") == [(None,)]
        gw.kill()
        proxy.restore()
        gateways(config)  # the next holder publishes it again
        wait_for(lambda: query(db, "SELECT published_ms FROM outbound WHERE id = 2")[0][0]
                 is not None, 10, what="second row marked")  # fmt: skip
        wait_for(lambda: len(listener.verdicts) == 2, 5, what="second verdict")
        assert listener.verdicts[1].verdicts[0].event_id.endswith("2")
        assert listener.lists == [] and "more than the broker's maximum packet size" in (
            gw.log.read_text()
        )
    finally:
        listener.close()
        proxy.close()
        broker.kill()
