"""Real gateways and the UI: `dockscan gateway run --ui`, and a gateway SIGKILLed beside another."""

import urllib.error
import urllib.request
from pathlib import Path

import orjson

from gateway.web import create_app, web
from gateway.web.server import shutdown
from tests.gateway.conftest import site_config
from tests.gateway.ingest_support import Gateway, write_config
from tests.support.broker import Mosquitto, free_port, wait_for, wait_port

GW2_CONNECTED = "SELECT value FROM counters WHERE gateway = 'gw-2' AND name = 'broker_connected'"


def _health(port: int) -> dict:
    """Return the /healthz body of the UI on a port, whatever its status."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return orjson.loads(exc.read())


def test_run_with_ui_serves_health_and_stops_cleanly(
    mosquitto: Mosquitto, tmp_path: Path, store_target: str
) -> None:
    port = free_port()
    cfg = write_config(
        tmp_path, mosquitto.url, database=store_target, http_bind=f"127.0.0.1:{port}"
    )
    gw = Gateway(cfg, "--ui").launch()
    try:
        wait_port(port, 20)
        status = wait_for(lambda: gw.running and (h := _health(port))["status"] == "ok" and h, 15)
        assert status["checks"]["store"] == "ok" and status["checks"]["ingest"] == "ok"
        assert status["gateways"]["gw-1"]["broker"] == "connected"
    finally:
        assert gw.stop() == 0
    wait_for(lambda: "web UI stopping" in gw.log.read_text(), 5, what="the UI child stopped")


def test_a_sigkilled_gateway_does_not_count_as_connected(
    mosquitto: Mosquitto, tmp_path: Path, store_target: str
) -> None:
    gateways = {}
    for name in ("gw-1", "gw-2"):
        (tmp_path / name).mkdir()
        cfg = write_config(tmp_path / name, mosquitto.url, database=store_target, id=name)
        gateways[name] = Gateway(cfg).launch()
    app = create_app(site_config(store_target), {"TESTING": True, "HEALTH_MAX_HEARTBEAT_S": 2.0})
    client = app.test_client()

    def health() -> dict:
        assert all(gw.running for gw in gateways.values() if gw.proc.returncode is None)
        return client.get("/healthz").json

    def both_connected() -> dict | None:
        h = health()
        states = [g["broker"] for g in h["gateways"].values()]
        return h if states == ["connected", "connected"] else None

    try:
        assert wait_for(both_connected, 20, what="both gateways connected")["status"] == "ok"
        gateways["gw-2"].kill()  # no clean stop: its row keeps broker_connected = 1
        after = wait_for(lambda: not (h := health())["gateways"]["gw-2"]["fresh"] and h, 10)
        assert after["gateways"]["gw-2"]["broker"] == "disconnected"
        assert after["gateways"]["gw-1"]["broker"] == "connected"
        assert after["status"] == "ok"  # gw-1 still runs and is connected
        with app.app_context():
            stale = web().db.conn().execute(GW2_CONNECTED).fetchone()
        assert stale[0] == 1  # the row a SIGKILL left behind still says connected
        gateways["gw-1"].kill()
        down = wait_for(lambda: (h := health())["status"] == "failing" and h, 10)
        assert down["checks"]["broker"] == "disconnected"
        assert down["checks"]["ingest"].startswith("heartbeat ")
    finally:
        for gw in gateways.values():
            gw.kill()
        shutdown(app)
