"""Customs holds on both backends: the store (set, release, history, MQTT replays), the API, and
the lease holder's publishing (hold list, outbound rows marked after their PUBACK)."""

import threading
import time
from datetime import UTC, datetime

import orjson
import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from dockscan.codes import CodeClassifier
from dockscan.hub_events import HoldList, HoldRequest
from dockscan.topics import Topics
from gateway.holds import (
    HoldError,
    apply_all,
    current_holds,
    from_request,
    hold_history,
    hold_list,
    hold_list_json,
    holds_version,
    release_hold,
    set_hold,
    snapshot,
)
from gateway.outbound import HubPublisher
from gateway.store import open_db, transaction
from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.conftest import OPERATOR, VIEWER, WebSite
from tests.support.broker import Mosquitto, wait_for

CODES = CodeClassifier()
OP = {"Authorization": f"Bearer {OPERATOR}"}
S10 = "RR123456785CN"
SSCC = "340123450000000017"


def request(action: str, tid: str, at: datetime, reason: str | None = "customs_referral"):
    """Return a hold request from the integrator `broker-x` made at `at`."""
    return HoldRequest(action=action, tracking_id=tid, reason=reason, sender="broker-x", ts=at)


def test_set_release_history_and_mqtt_replays(store_target: str) -> None:
    conn = open_db(store_target)
    try:
        first = set_hold(conn, "rr 123 456 785 cn", "customs_referral", "x-ray", "ana", "cli",
                         CODES, 1000)  # fmt: skip
        assert (first.changed, first.previous, first.change.tracking_id) == (True, None, S10)
        again = set_hold(conn, S10, "customs_referral", "x-ray", "bo", "api", CODES, 2000)
        assert not again.changed and holds_version(conn) == 1  # same reason and note: nothing
        moved = set_hold(
            conn, f"(00) {SSCC[:1]} {SSCC[1:]}", "damage", "", "bo", "api", CODES, 3000
        )
        assert moved.change.tracking_id == SSCC
        assert set_hold(conn, S10, "inspection", "", "bo", "api", CODES, 4000).previous == (
            "customs_referral"
        )
        for bad, why in [("RR123456784CN", "S10 mod-11"), ("", "empty"), ("(01)09506000134352",
                         "without an SSCC"), ("x" * 201, "longer than 200")]:  # fmt: skip
            with pytest.raises(HoldError, match=why):
                set_hold(conn, bad, "damage", "", "bo", "api", CODES, 5000)
        with pytest.raises(HoldError, match="unknown hold reason 'nope': one of customs_referral"):
            set_hold(conn, S10, "nope", "", "bo", "api", CODES, 5000)
        done = release_hold(conn, S10, "cy", "cli", CODES, 6000, note="cleared")
        assert done.previous == "inspection"
        with pytest.raises(HoldError, match="is not held"):
            release_hold(conn, S10, "cy", "cli", CODES, 7000)
        assert [(h["tracking_id"], h["reason"], h["set_ms"]) for h in current_holds(conn)] == [
            (SSCC, "damage", 3000)
        ]
        history = [(h["id"], h["action"], h["reason"], h["actor"]) for h in hold_history(conn, S10)]
        assert history == [(4, "release", "inspection", "cy"), (3, "set", "inspection", "bo"),
                           (1, "set", "customs_referral", "ana")]  # fmt: skip

        # MQTT: a set and a release applied, then delivered again (every gateway gets each one)
        t1, t2 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 1, 9, 1, tzinfo=UTC)
        changes = [from_request(request("set", "rr123456785cn", t1), CODES),
                   from_request(request("release", S10, t2, None), CODES)]  # fmt: skip
        for replay in (False, True):
            with transaction(conn):
                outcomes = apply_all(conn, changes, 9000)
            assert [o.changed for o in outcomes] == [not replay, not replay]  # type: ignore[union-attr]
            assert holds_version(conn) == 6
        mqtt = hold_history(conn, S10, limit=2)
        assert [(h["action"], h["source"], h["actor"], h["at_ms"]) for h in mqtt] == [
            ("release", "mqtt", "broker-x", 1796115660000),
            ("set", "mqtt", "broker-x", 1796115600000),
        ]
        version, holds = snapshot(conn)
        wire = hold_list_json("hub", version, holds)  # the model's wire form, byte for byte
        listed = HoldList.model_validate_json(wire)
        assert listed.to_json() == wire and hold_list("hub", version, holds).holds == listed.holds
        assert listed.version == 6 and [(h.tracking_id, h.reason) for h in listed.holds] == [
            (SSCC, "damage")
        ]
    finally:
        conn.close()


def test_a_late_redelivery_cannot_undo_a_later_release(store_target: str) -> None:
    conn = open_db(store_target)
    t1, t2, t3 = (datetime(2026, 12, 1, 9, m, tzinfo=UTC) for m in (0, 1, 2))
    first, repeat = (from_request(request("set", S10, t), CODES) for t in (t1, t2))
    release = from_request(request("release", S10, t3, None), CODES)
    try:
        for step, changed in ((first, True), (repeat, False), (release, True), (repeat, False)):
            with transaction(conn):  # the last: a gateway that got the repeat late
                assert [o.changed for o in apply_all(conn, [step], 9000)] == [changed]  # type: ignore[union-attr]
        assert current_holds(conn) == []
        assert [h["action"] for h in hold_history(conn, S10)] == ["release", "set"]
    finally:
        conn.close()


@pytest.fixture
def client(web_site: WebSite) -> FlaskClient:
    """A test client with a viewer and an operator token."""
    app: Flask = create_app(web_site.cfg, {"TESTING": True, "ACCESS_TOKEN": VIEWER,
                                           "OPERATOR_TOKEN": OPERATOR})  # fmt: skip
    yield app.test_client()
    shutdown(app)


def test_api_sets_lists_and_releases_for_the_operator(client: FlaskClient) -> None:
    viewer = {"Authorization": f"Bearer {VIEWER}"}
    body = {"tracking_id": "RR 123 456 785 CN", "reason": "do_not_load", "note": "<b>x</b>"}
    assert client.post("/api/v1/holds", json=body).status_code == 401
    denied = client.post("/api/v1/holds", json=body, headers=viewer)
    assert denied.status_code == 403 and "operator role" in denied.json["error"]
    made = client.post("/api/v1/holds", json=body, headers=OP)
    assert made.status_code == 201, made.json
    assert made.json["hold"]["tracking_id"] == S10 and made.json["hold"]["source"] == "api"
    assert client.post("/api/v1/holds", json=body, headers=OP).json["changed"] is False
    bad = client.post("/api/v1/holds", json={**body, "reason": "later"}, headers=OP)
    assert bad.status_code == 400 and "one of customs_referral" in bad.json["error"]
    assert client.post("/api/v1/holds", data="x", headers=OP).status_code == 400
    listed = client.get("/api/v1/holds", headers=viewer).json
    assert listed["version"] == 1 and listed["holds"][0]["note"] == "<b>x</b>"
    assert client.delete(f"/api/v1/holds/{S10}", headers=viewer).status_code == 403
    gone = client.delete(f"/api/v1/holds/{S10.lower()}?note=ok", headers=OP)
    assert gone.status_code == 200 and gone.json == {"released": S10, "previous": "do_not_load",
                                                     "version": 2}  # fmt: skip
    assert client.delete(f"/api/v1/holds/{S10}", headers=OP).status_code == 404
    assert client.delete("/api/v1/holds/RR123456784CN", headers=OP).status_code == 400
    history = client.get(f"/api/v1/holds/history?tracking_id={S10}", headers=viewer).json
    assert [(h["action"], h["note"], h["actor"]) for h in history["items"]] == [
        ("release", "ok", "operator"),
        ("set", "<b>x</b>", "operator"),
    ]
    assert client.get("/api/v1/holds", headers=viewer).json == {"version": 2, "holds": []}


def test_the_holder_publishes_holds_and_rows_in_order_then_marks_them(
    store_target: str, mosquitto: Mosquitto
) -> None:
    conn = open_db(store_target)
    got: list[tuple[str, dict]] = []
    watcher = mqtt_client(mosquitto.port, "watcher")
    watcher.on_message = lambda c, u, m: got.append((m.topic, orjson.loads(m.payload)))
    granted = threading.Event()
    watcher.on_subscribe = lambda *_: granted.set()
    watcher.subscribe("dockscan/v1/hub/#", 1)  # the site is called hub
    assert granted.wait(5)
    gateway = mqtt_client(mosquitto.port, "gateway")
    try:
        set_hold(conn, S10, "do_not_load", "", "ana", "cli", CODES, 1000)
        queue = [("verdict", "st1", '{"n": 1}'), ("bogus", "", "{}"), ("closeout", "", '{"n": 3}')]
        with transaction(conn):
            conn.executemany("INSERT INTO outbound (kind, station, payload, created_ms)"
                             " VALUES (?, ?, ?, 0)", queue)  # fmt: skip
        hub = HubPublisher("hub", Topics())
        hub.step(conn, gateway)
        assert len(hub.in_flight) == 2  # the unknown kind is marked at once, never sent
        wait_for(lambda: all(i.is_published() for i, _ in hub.in_flight.values()), 5, what="ack")
        hub.step(conn, gateway)
        marked = conn.execute(
            "SELECT id FROM outbound WHERE published_ms > 0 ORDER BY id"
        ).fetchall()
        assert [r[0] for r in marked] == [1, 2, 3] and not hub.in_flight
        hub.step(conn, gateway)  # nothing new: nothing sent again
        wait_for(lambda: len(got) >= 3, 5, what="messages")
        time.sleep(0.2)
        assert [(t.rsplit("/", 1)[1], d.get("n", d.get("version"))) for t, d in got] == [
            ("holds", 1),
            ("verdict", 1),
            ("closeout", 3),
        ]
    finally:
        for client in (watcher, gateway):
            client.disconnect()
            client.loop_stop()
        conn.close()


def mqtt_client(port: int, name: str) -> mqtt.Client:
    """Return a connected MQTT 5 client with its network thread running."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name,
                         protocol=MQTTProtocolVersion.MQTTv5)  # fmt: skip
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client
