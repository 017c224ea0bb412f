"""Zero, tare and resend reach the station's command topic on a real Mosquitto."""

import json
import queue
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion

from dockscan.events import Command
from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.conftest import OPERATOR, WebSite, site_config
from tests.support.broker import Mosquitto, free_port, wait_for

OP = {"Authorization": f"Bearer {OPERATOR}"}


@pytest.fixture
def commands_seen(mosquitto: Mosquitto) -> Iterator[queue.Queue]:
    """Subscribe to every command topic of the site and collect (topic, payload)."""
    seen: queue.Queue = queue.Queue()
    subscribed: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-cmd-listener")
    client.on_message = lambda c, u, msg: seen.put((msg.topic, msg.payload))
    client.on_subscribe = lambda *a: subscribed.append(True)
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe("dockscan/v1/hub/+/cmd/+", qos=1)
    client.loop_start()
    wait_for(lambda: subscribed, what="subscription")
    yield seen
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def broker_app(web_site: WebSite, mosquitto: Mosquitto) -> Iterator[Flask]:
    """The app with the operator token, publishing to the test broker."""
    app = create_app(site_config(web_site.target, mosquitto.url), {"OPERATOR_TOKEN": OPERATOR})
    yield app
    shutdown(app)


def test_operator_bearer_command_is_published(
    broker_app: Flask, commands_seen: queue.Queue
) -> None:
    client = broker_app.test_client()
    resp = client.post("/api/stations/st-a1/commands/tare", headers=OP)
    assert resp.status_code == 202
    topic, payload = commands_seen.get(timeout=5)
    assert topic == "dockscan/v1/hub/st-a1/cmd/tare"
    command = Command.model_validate_json(payload)
    assert command.request_id == resp.json["request_id"]
    assert command.sender.startswith("ui:")
    # the same lazily connected client serves the next command
    assert client.post("/api/stations/st-b1/commands/resend", headers=OP).status_code == 202
    assert commands_seen.get(timeout=5)[0] == "dockscan/v1/hub/st-b1/cmd/resend"


def test_operator_form_command_with_csrf(broker_app: Flask, commands_seen: queue.Queue) -> None:
    client = broker_app.test_client()
    client.post("/login", data={"token": OPERATOR})
    html = client.get("/stations/st-a2").get_data(as_text=True)
    csrf = html.split('name="csrf" value="')[1].split('"')[0]
    resp = client.post("/api/stations/st-a2/commands/zero", data={"csrf": csrf})
    assert resp.status_code == 302 and resp.headers["Location"] == "/stations/st-a2"
    topic, payload = commands_seen.get(timeout=5)
    assert topic == "dockscan/v1/hub/st-a2/cmd/zero" and json.loads(payload)["args"] == {}
    assert "zero sent to st-a2" in client.get("/stations/st-a2").get_data(as_text=True)


def test_unknown_command_or_station(broker_app: Flask) -> None:
    client = broker_app.test_client()
    assert client.post("/api/stations/st-a1/commands/reboot", headers=OP).status_code == 404
    assert client.post("/api/stations/ghost/commands/tare", headers=OP).status_code == 404


def test_broker_down_is_a_clear_503(web_site: WebSite) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens here
    app = create_app(site_config(web_site.target, url), {"OPERATOR_TOKEN": OPERATOR})
    resp = app.test_client().post("/api/stations/st-a1/commands/tare", headers=OP)
    assert resp.status_code == 503 and "cannot reach the broker" in resp.json["error"]
    shutdown(app)
