"""`dockscan demo --scale`: NATS x3, PostgreSQL and two gateways, run as a user would."""

import re
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from dockscan.demo_scale import DATABASE, missing_tools
from tests.support.broker import free_port, wait_for
from tests.support.procs import get_json


def test_scaled_demo_runs_two_gateways_on_one_postgres(tmp_path: Path) -> None:
    assert missing_tools() == [], missing_tools()  # .ci/run installs nats-server and postgresql
    http = free_port()
    cfg = tmp_path / "demo.toml"
    cfg.write_text('[site]\nid = "LGG"\n')
    log_path = tmp_path / "demo.log"
    log = open(log_path, "wb")  # noqa: SIM115
    demo = subprocess.Popen(
        [sys.executable, "-m", "dockscan", "demo", "--scale", "-c", str(cfg), "--http",
         f"127.0.0.1:{http}", "--workdir", str(tmp_path / "work"), "--stations", "2"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        second = wait_for(
            lambda: demo.poll() is not None
            or re.search(r"http://127\.0\.0\.1:(\d+)/ \(gw-2\)", log_path.read_text()),
            90, 0.5, "the banner",
        )  # fmt: skip
        assert demo.poll() is None, log_path.read_text()[-5000:]
        pg_url = re.search(r"PostgreSQL: +(\S+)", log_path.read_text())
        assert pg_url and pg_url.group(1).endswith(f"/{DATABASE}")

        def online(port: int) -> list[str]:
            try:
                stations = get_json(f"http://127.0.0.1:{port}/api/stations")
            except OSError:
                return []
            return sorted(s["id"] for s in stations if s["state"] == "online")

        password = (tmp_path / "work" / "pg-password").read_text().strip()

        def parcels() -> int:
            with psycopg.connect(pg_url.group(1), password=password) as conn:
                return conn.execute("SELECT count(*) FROM parcels").fetchone()[0]

        try:
            for port in (http, int(second.group(1))):  # the board answers through both
                wait_for(lambda p=port: online(p) == ["dock01", "dock02"], 90, 0.5, "online")
            first = wait_for(parcels, 60, 0.5, "parcels in PostgreSQL")
            wait_for(lambda: parcels() > first, 60, 0.5, "the parcel count to grow")
        except TimeoutError:
            pytest.fail(log_path.read_text()[-5000:])
    finally:
        demo.send_signal(signal.SIGINT)
        rc = demo.wait(90)
        log.close()
    out = log_path.read_text()
    assert rc == 0, out[-5000:]
    assert "Stopped." in out
    assert "exited with" not in out, out[-5000:]
