"""The production broker config: auth, per-station ACL and TLS, on a real Mosquitto."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mqttc import TestClient
from tests.support.tls import SecureBroker, start_secure_broker

SITE = {
    "site": {"id": "LGG"},
    "gateway": {"id": "gw-1"},
    "stations": [{"id": "dockA", "dock": "01"}, {"id": "dockB", "dock": "02"}],
}
BASE = "dockscan/v1/LGG"


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SecureBroker]:
    broker = start_secure_broker(tmp_path, SITE)
    yield broker
    broker.broker.kill()


def test_anonymous_and_wrong_password_are_refused(secure: SecureBroker) -> None:
    assert not secure.client(None).connect()
    bad = TestClient(secure.plain_port, "dockA", "dockA", "wrong")
    assert not bad.connect()
    good = secure.client("dockA", cid="dockA")
    assert good.connect()
    good.close()


def test_station_cannot_publish_as_another_station(secure: SecureBroker) -> None:
    gw = secure.client("gw-1")
    assert gw.connect()
    gw.subscribe(f"{BASE}/+/parcel")
    a = secure.client("dockA")
    assert a.connect()
    a.publish(f"{BASE}/dockB/parcel", b'{"forged": true}')
    a.publish(f"{BASE}/dockA/parcel", b'{"own": true}')
    got = [(m.topic, m.payload) for m in gw.received(1.0)]
    assert got == [(f"{BASE}/dockA/parcel", b'{"own": true}')]
    a.close()
    gw.close()


def test_station_cannot_read_another_stations_commands(secure: SecureBroker) -> None:
    a, b, gw = secure.client("dockA"), secure.client("dockB"), secure.client("gw-1")
    assert a.connect() and b.connect() and gw.connect()
    a.subscribe(f"{BASE}/dockB/cmd/+")
    b.subscribe(f"{BASE}/dockB/cmd/+")
    gw.publish(f"{BASE}/dockB/cmd/tare", b"{}")
    assert [m.topic for m in b.received(1.0)] == [f"{BASE}/dockB/cmd/tare"]
    assert a.received(0.3) == []
    for c in (a, b, gw):
        c.close()


def test_integrator_reads_everything_and_writes_nothing(secure: SecureBroker) -> None:
    integ, gw = secure.client("integrator"), secure.client("gw-1")
    assert integ.connect() and gw.connect()
    integ.subscribe(f"{BASE}/#")
    gw.subscribe(f"{BASE}/+/parcel")
    gw.publish(f"{BASE}/dockA/ack", b"{}")
    integ.publish(f"{BASE}/dockA/parcel", b"{}")
    assert [m.topic for m in integ.received(1.0)] == [f"{BASE}/dockA/ack"]
    assert gw.received(0.3) == []
    integ.close()
    gw.close()


def test_hub_topics_reach_only_whom_they_are_for(secure: SecureBroker) -> None:
    a, gw, customs = secure.client("dockA"), secure.client("gw-1"), secure.client("customs")
    assert a.connect() and gw.connect() and customs.connect()
    a.subscribe(f"{BASE}/dockA/verdict")
    a.subscribe(f"{BASE}/dockB/verdict")  # refused: another station's verdicts
    a.subscribe(f"{BASE}/hub/holds")
    gw.subscribe(f"{BASE}/hub/hold-request")
    customs.subscribe(f"{BASE}/hub/#")
    gw.publish(f"{BASE}/dockA/verdict", b"{}")
    gw.publish(f"{BASE}/dockB/verdict", b"{}")
    gw.publish(f"{BASE}/hub/holds", b"{}")
    customs.publish(f"{BASE}/hub/hold-request", b"{}")
    a.publish(f"{BASE}/hub/hold-request", b"{}")  # refused: a station cannot request holds
    customs.publish(f"{BASE}/hub/holds", b"{}")  # refused: only the gateway writes the list
    assert sorted(m.topic for m in a.received(1.0)) == [
        f"{BASE}/dockA/verdict",
        f"{BASE}/hub/holds",
    ]
    assert [m.topic for m in gw.received(0.3)] == [f"{BASE}/hub/hold-request"]
    assert sorted(m.topic for m in customs.received(0.3)) == [
        f"{BASE}/hub/hold-request", f"{BASE}/hub/holds"]  # fmt: skip
    for c in (a, gw, customs):
        c.close()


def test_a_station_sends_evidence_only_as_itself_and_the_gateway_corrections(
    secure: SecureBroker,
) -> None:
    a, gw, integ = secure.client("dockA"), secure.client("gw-1"), secure.client("integrator")
    assert a.connect() and gw.connect() and integ.connect()
    event = "01a24a0d-7c43-7000-b176-ccc60d968cb3"
    gw.subscribe(f"{BASE}/+/evidence/+/+")
    integ.subscribe(f"{BASE}/+/correction")
    a.publish(f"{BASE}/dockA/evidence/{event}/0", b"\xff\xd8\xff")
    a.publish(f"{BASE}/dockB/evidence/{event}/0", b"\xff\xd8\xff")  # refused: not itself
    gw.publish(f"{BASE}/dockA/correction", b"{}")
    a.publish(f"{BASE}/dockA/correction", b"{}")  # refused: only the gateway corrects
    assert [m.topic for m in gw.received(1.0)] == [f"{BASE}/dockA/evidence/{event}/0"]
    assert [m.topic for m in integ.received(0.3)] == [f"{BASE}/dockA/correction"]
    for c in (a, gw, integ):
        c.close()


def test_tls_listener_needs_tls_and_the_site_ca(secure: SecureBroker) -> None:
    tls = secure.client("dockA", tls=True)
    assert tls.connect()
    tls.close()
    plain_to_tls = TestClient(secure.tls_port, "x", "dockA", secure.creds["dockA"])
    assert not plain_to_tls.connect(timeout=2)
    plain_to_tls.client.loop_stop()
