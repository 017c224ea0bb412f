"""Loss-free delivery over real processes: 5,000 events through broker, gateway and edge kills."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockscan.events import StationStatus
from tests.support.broker import Mosquitto, wait_for
from tests.support.chain import Chain, read_sql
from tests.support.mqttc import TestClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
N = 5000


@pytest.fixture
def chain(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Chain]:
    c = Chain(tmp_path, mosquitto)
    yield c
    c.close()


def test_broker_killed_and_restarted_twice(chain: Chain, mosquitto: Mosquitto) -> None:
    chain.start_gateway()
    chain.start_edge("st01", count=N, rate=400)
    for at in (1500, 3500):
        chain.wait_accepted("st01", at)
        mosquitto.kill()
        time.sleep(1.0)
        mosquitto.start()
    chain.wait_accepted("st01", N)
    chain.wait_delivered("st01", N)
    chain.assert_exactly_once("st01", N)


def test_gateway_killed_and_restarted(chain: Chain) -> None:
    chain.start_gateway()
    chain.start_edge("st01", count=N, rate=400)
    chain.wait_accepted("st01", 2000)
    chain.procs.kill("gateway")
    chain.wait_accepted("st01", 3000)
    chain.start_gateway()
    chain.wait_delivered("st01", N)
    chain.assert_exactly_once("st01", N)


def test_edge_killed_mid_stream_delivers_its_outbox_once(chain: Chain) -> None:
    chain.start_gateway()
    chain.start_edge("st01", count=N, rate=400)
    chain.wait_accepted("st01", 1500)
    chain.procs.kill("gateway")  # so that the agent dies with a backlog in its outbox
    chain.wait_accepted("st01", 2500)
    chain.procs.kill("edge-st01")
    accepted = chain.accepted("st01")
    assert chain.pending("st01") > 0, "the kill should leave events in the outbox"
    chain.start_gateway()
    chain.start_edge("st01")
    chain.wait_delivered("st01", accepted)
    chain.assert_exactly_once("st01", accepted)


def test_broker_that_drops_messages_still_ends_with_all_events(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", extra="max_queued_messages 100").start()
    chain = Chain(tmp_path, broker, ack_timeout=2.0)
    try:
        chain.start_gateway()
        wait_for(lambda: read_sql(chain.db, "SELECT 1 FROM stations"), 20, 0.2, "gateway up")
        chain.procs.kill("gateway")  # its persistent session stays: the broker queues for it
        chain.start_edge("st01", count=2000, rate=1000)
        chain.wait_accepted("st01", 2000)
        time.sleep(1.0)
        chain.start_gateway()
        chain.wait_delivered("st01", 2000, timeout=180)
        chain.assert_exactly_once("st01", 2000)
        assert "Outgoing messages are being dropped" in broker.log_path.read_text()
    finally:
        chain.close()
        broker.kill()


def station_row(chain: Chain, sid: str) -> tuple[str, int] | None:
    """Return (state, session) of a station in the gateway store."""
    rows = read_sql(chain.db, "SELECT state, session FROM stations WHERE id=?", (sid,))
    return rows[0] if rows else None


def test_station_liveness_follows_the_agent(chain: Chain, mosquitto: Mosquitto) -> None:
    chain.start_gateway()
    chain.start_edge("st01")
    _, first = wait_for(lambda: (r := station_row(chain, "st01")) and r[0] == "online" and r,
                            20, 0.1, "online")  # fmt: skip
    killed = time.monotonic()
    chain.procs.kill("edge-st01")
    wait_for(lambda: station_row(chain, "st01")[0] == "offline", 15, 0.1, "offline after kill")
    # keepalive 5 s: the broker publishes the Will within 1.5 x keepalive
    assert time.monotonic() - killed < 5 * 1.5 + 1.5
    chain.start_edge("st01")
    wait_for(lambda: station_row(chain, "st01") == ("online", first + 1), 20, 0.1, "online again")

    stale = StationStatus(site="LGG", station="st01", state="offline", session=first,
                          ts=datetime.now(UTC), version="0.0.0", reason="stale")  # fmt: skip
    peer = TestClient(mosquitto.port, "integrator-test")
    assert peer.connect()
    peer.publish("dockscan/v1/LGG/st01/status", stale.to_json(), retain=False)
    time.sleep(1.0)
    peer.close()
    assert station_row(chain, "st01") == ("online", first + 1)
