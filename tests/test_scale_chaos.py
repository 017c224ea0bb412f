"""The scaled site under faults: two gateways on one PostgreSQL, through NATS or Mosquitto $share.

Five stations send 4,000 events each while the gateway holding the site duty lease is
SIGKILLed, the broker the stations use is SIGKILLed and restarted, and PostgreSQL is SIGKILLed
and restarted. At the end every seq is stored once, every outbox is empty, the survivor holds
the lease and its board answers.
"""

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from dockscan.localsvc.postgres import Postgres
from tests.support.broker import Mosquitto, wait_for
from tests.support.chain import Chain, read_sql
from tests.support.nats import NatsCluster
from tests.support.procs import get_json

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
STATIONS, EVENTS = 5, 4000
GATEWAYS = {"gw-1": "gateway", "gw-2": "gateway-2"}  # gateway id -> process name


@pytest.fixture
def pg() -> Iterator[Postgres]:
    """A private PostgreSQL this test may SIGKILL and restart."""
    server = Postgres().start()
    yield server
    server.destroy()


def _database(pg: Postgres) -> str:
    """Return the URL of a new database on the private server."""
    return pg.url(pg.create_database(), password=True)


def _holder(chain: Chain) -> str | None:
    """Return the gateway holding a live site duty lease, if any."""
    rows = read_sql(chain.db, "SELECT holder, expires_ms FROM leases WHERE name = 'site-duties'")
    return rows[0][0] if rows and rows[0][1] > time.time() * 1000 else None


def _http_port(config: Path) -> int:
    """Return the UI port a gateway config binds."""
    found = re.search(r'http_bind = "127\.0\.0\.1:(\d+)"', config.read_text())
    assert found, config
    return int(found.group(1))


def _run_faults(
    chain: Chain, pg: Postgres, broker_fault: Callable[[], None], scenario: str
) -> None:
    """Start both gateways and the stations, inject the faults, and count everything."""
    gw2 = chain.gateway_config("gw-2")
    chain.start_gateway("--ui")
    chain.start_gateway("--ui", name="gateway-2", config=gw2)
    for gateway in GATEWAYS:
        chain.wait_gateway(gateway=gateway)
    first = wait_for(lambda: _holder(chain), 15, 0.2, "a lease holder")
    for sid in chain.ids:
        chain.start_edge(sid, count=EVENTS, rate=500)
    chain.wait_accepted("st01", 800)
    chain.procs.kill(GATEWAYS[first])  # the leader dies mid-stream
    killed = time.monotonic()
    survivor = next(g for g in GATEWAYS if g != first)
    wait_for(lambda: _holder(chain) == survivor, 20, 0.1, f"{survivor} to take the lease")
    takeover_s = time.monotonic() - killed
    chain.wait_accepted("st01", 1600)
    broker_fault()
    chain.wait_accepted("st01", 2400)
    pg.kill()  # PostgreSQL SIGKILLed: the survivor holds its batch and stops acking
    time.sleep(3.0)
    pg.restart()
    for sid in chain.ids:
        chain.wait_accepted(sid, EVENTS, timeout=120)
        chain.wait_delivered(sid, EVENTS, timeout=180)
    for sid in chain.ids:
        figures = chain.assert_exactly_once(sid, EVENTS)
        assert chain.pending(sid) == 0
    assert chain.assert_one_verdict_each(60) == STATIONS * EVENTS  # two reconcilers, one each
    chain.record(scenario, figures, stations=STATIONS, lease_takeover_s=round(takeover_s, 2))
    assert wait_for(lambda: _holder(chain), 15, 0.2, "a live lease") == survivor
    port = chain.http if survivor == "gw-1" else _http_port(gw2)
    health = wait_for(
        lambda: get_json(f"http://127.0.0.1:{port}/healthz")["status"] == "ok"  # type: ignore[index]
        and get_json(f"http://127.0.0.1:{port}/healthz"),
        30, 0.5, "the survivor's health",
    )  # fmt: skip
    assert health["checks"]["leader"] == survivor, health  # type: ignore[index]
    stations = get_json(f"http://127.0.0.1:{port}/api/stations")
    assert sorted(s["id"] for s in stations) == chain.ids  # type: ignore[union-attr]
    name = GATEWAYS[survivor]
    assert chain.procs.stop(name) == 0, "SIGTERM: commit, ack, offline, exit 0"
    assert "Traceback" not in chain.procs.log(name), chain.procs.log(name)[-3000:]


def test_nats_two_gateways_postgres_under_faults(tmp_path: Path, pg: Postgres) -> None:
    cluster = NatsCluster(tmp_path / "nats").start()
    placeholder = "mqtt://placeholder:1883"
    chain = Chain(
        tmp_path, SimpleNamespace(url=placeholder), STATIONS, protocol="3.1.1",  # type: ignore[arg-type]
        database=_database(pg),
    )  # fmt: skip
    mqtt = ", ".join(f'"{u}"' for u in cluster.mqtt_urls)
    nats = ", ".join(f'"{u}"' for u in cluster.urls)
    chain.config.write_text(
        chain.config.read_text().replace(
            f'url = "{placeholder}"',
            f'urls = [{mqtt}]\ntransport = "nats"\nnats_urls = [{nats}]\nnats_ack_wait_s = 5',
        )
    )

    def kill_station_node() -> None:
        cluster.nodes[0].kill()  # every station is connected to the first node
        time.sleep(3.0)
        # Its JetStream replicas catch up while the stream runs; health is checked at the end.
        cluster.restart(0, healthy=False)

    try:
        scenario = "NATS + PostgreSQL: leader gateway, station node and PostgreSQL SIGKILLed"
        _run_faults(chain, pg, kill_station_node, scenario)
        try:
            cluster.wait_healthy(120, server_only=True)  # the restarted node rejoined
        except TimeoutError:
            pytest.fail(f"n1 not healthy: {cluster.nodes[0].health()}")
    finally:
        chain.close()
        cluster.stop()


def test_share_two_gateways_postgres_under_faults(
    tmp_path: Path, mosquitto: Mosquitto, pg: Postgres
) -> None:
    chain = Chain(
        tmp_path,
        mosquitto,
        STATIONS,
        database=_database(pg),
        gateway_extra='shared_group = "gws"\n',
    )

    def kill_broker() -> None:
        mosquitto.kill()
        time.sleep(1.0)
        mosquitto.restart()

    try:
        scenario = "$share + PostgreSQL: leader gateway, broker and PostgreSQL SIGKILLed"
        _run_faults(chain, pg, kill_broker, scenario)
    finally:
        chain.close()
