"""`dockscan gateway run --ui`: ingest in this process, the web UI as a child, one clean stop."""

import urllib.request
from pathlib import Path

import orjson

from tests.gateway.ingest_support import Gateway, write_config
from tests.support.broker import Mosquitto, free_port, wait_for, wait_port


def test_run_with_ui_serves_health_and_stops_cleanly(mosquitto: Mosquitto, tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path, mosquitto.url, http_bind=f"127.0.0.1:{port}")
    gw = Gateway(cfg, "--ui").start()
    wait_port(port, 20)

    def health() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return orjson.loads(resp.read())

    status = wait_for(lambda: (h := health())["checks"]["broker"] == "connected" and h, 10)
    assert status["checks"]["ingest"] == "ok"
    assert gw.stop() == 0
    wait_for(lambda: "web UI stopping" in gw.log.read_text(), 5, what="the UI child stopped")
