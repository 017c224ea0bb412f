"""`dockscan doctor` over real parts: Mosquitto with passwd + ACL, ptys, MJPEG, tmpfs, HTTP."""

import email.utils
import json
import os
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from firmware_sim.camera import CameraScene, MjpegServer
from firmware_sim.scales import make_scale_sim
from tests.support.broker import free_port, wait_port
from tests.support.procs import Procs
from tests.support.tls import SecureBroker, start_secure_broker
from tests.test_doctor_helpers import (
    camera_toml,
    give_to_nobody,
    open_dir,
    run_doctor,
    scale_toml,
    site_toml,
)

__all__ = ["open_dir"]  # the fixture, imported for pytest
BASE = "dockscan/v1/LGG"


def creds(broker: SecureBroker, user: str, password: str | None = None) -> dict[str, str]:
    """Return the environment the config's username_env/password_env name."""
    return {
        "DOCTOR_TEST_USER": user,
        "DOCTOR_TEST_PASSWORD": broker.creds[user] if password is None else password,
    }


@pytest.fixture
def secure(tmp_path: Path, open_dir: Path) -> Iterator[SecureBroker]:
    """The production broker config (passwd + ACL from `dockscan broker-config`) for the site."""
    site = site_toml(open_dir)
    broker = start_secure_broker(tmp_path, tomllib.loads(site.read_text()))
    yield broker
    broker.broker.kill()


def test_all_green_on_a_healthy_station(secure: SecureBroker, open_dir: Path) -> None:
    scale = make_scale_sim("mt-sics", str(open_dir / "scale"))
    scale.start()
    os.chmod(scale.port.tty_path, 0o666)  # as a udev rule would for the service user
    scene = CameraScene(seed=1, width=960, height=540, module_px=2, parcel_frames=6, gap_frames=2)
    camera = MjpegServer(scene, 0, fps=20).start()
    http = free_port()
    devices = scale_toml(str(open_dir / "scale")) + camera_toml(camera.url)
    site = site_toml(open_dir, secure.broker.url, http, devices=devices)
    procs = Procs(open_dir / "logs")
    procs.start("ui", "gateway", "ui", "-c", str(site))  # the clock source: Date of /healthz
    try:
        wait_port(http, 60)
        result = run_doctor("-c", str(site), "--station", "dockA", "--timeout", "5",
                            env=creds(secure, "dockA"), unprivileged=True)  # fmt: skip
    finally:
        procs.stop_all()
        camera.stop()
        scale.stop()
    assert result.rc == 0, result.out + result.err
    rows = result.rows
    assert list(rows) == ["config", "user", "outbox disk", "serial scale1", "camera cam1",
                          "broker", "acl", "clock"], result.out  # fmt: skip
    assert all(r.status == "ok" for r in rows.values()), result.out
    assert rows["config"].detail == f"{site}: site LGG, station dockA (camera 1, scale 1)"
    assert rows["user"].detail == "running as nobody (groups: nogroup)"
    assert rows["serial scale1"].detail == f"{open_dir}/scale: opened read/write at 9600 baud 8N1"
    assert rows["camera cam1"].detail.startswith(f"{camera.url}: 960x540, decoded ")
    assert rows["broker"].detail.startswith(
        f"{secure.broker.url}: connected as 'dockA' (MQTT 5) in "
    )
    assert rows["acl"].detail.startswith(f"user 'dockA' may write and read {BASE}/dockA/doctor")
    assert "Date header of http://127.0.0.1:" in rows["clock"].detail
    assert result.out.splitlines()[-1] == "passed: 8 ok, 0 warning(s), 0 failure(s)"


def test_wrong_password_names_the_environment_variables(
    secure: SecureBroker, open_dir: Path
) -> None:
    site = site_toml(open_dir, secure.broker.url)
    result = run_doctor("-c", str(site), "--station", "dockA", env=creds(secure, "dockA", "nope"))
    assert result.rc == 1
    broker = result.rows["broker"]
    assert (broker.status, broker.detail) == (
        "FAIL", f"{secure.broker.url} refused user 'dockA': Not authorized"
    )  # fmt: skip
    assert broker.fix.startswith(
        "check username_env/password_env DOCTOR_TEST_USER (set), DOCTOR_TEST_PASSWORD (set)"
    )
    assert result.rows["acl"].status == "warn"
    assert result.out.splitlines()[-1].startswith("FAILED: ")


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_acl_refuses_another_stations_topics(
    secure: SecureBroker, open_dir: Path, protocol: str
) -> None:
    site = site_toml(open_dir, secure.broker.url, protocol=protocol)
    result = run_doctor("-c", str(site), "--station", "dockB", "--timeout", "2",
                        env=creds(secure, "dockA"))  # fmt: skip
    assert result.rc == 1, result.out
    assert result.rows["broker"].status == "ok"
    acl = result.rows["acl"]
    assert acl.status == "FAIL"
    if protocol == "5":  # Mosquitto 2 answers a refused MQTT 5 publish with PUBACK 0x87
        assert acl.detail == (
            f"broker refused to let user 'dockA' write {BASE}/dockB/doctor: Not authorized"
        )
    else:  # MQTT 3.1.1 has no reason in PUBACK: the probe simply does not come back
        assert acl.detail == (
            f"probe on {BASE}/dockB/doctor did not come back within 2 s (MQTT 3.1.1 drops "
            "refused publishes silently: write or read refused)"
        )
    assert acl.fix.startswith(
        "DOCTOR_TEST_USER gives user 'dockA', but this is 'dockB': use the credentials of dockB"
    )


def test_unreachable_broker_names_the_url(open_dir: Path) -> None:
    port = free_port()
    site = site_toml(open_dir, f"mqtt://127.0.0.1:{port}")
    result = run_doctor("-c", str(site), "--station", "dockA")
    assert result.rc == 1
    assert result.rows["broker"].detail == f"connection refused at mqtt://127.0.0.1:{port}"
    assert result.rows["acl"].detail == f"not checked ({BASE}/dockA/doctor): no broker connection"
    clock = result.rows["clock"]  # no gateway HTTP either: a warning, not a failure
    assert clock.status == "warn"
    assert clock.detail.startswith("no clock source reachable (http://127.0.0.1:1/healthz: ")


@pytest.fixture
def tiny_fs(open_dir: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (as root), else a folder on /tmp whose free space the config exceeds."""
    mnt = open_dir / "tiny"
    mnt.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(mnt)],
        capture_output=True,
    ).returncode == 0  # fmt: skip
    yield mnt
    if mounted:
        subprocess.run(["umount", str(mnt)], check=True)


def _cap_beyond(folder: Path) -> float:
    """Return a size cap in MB larger than the free space of the folder's filesystem."""
    st = os.statvfs(folder)
    return max(5.0, st.f_bavail * st.f_frsize / 1e6 * 2)


def test_outbox_bound_larger_than_the_free_disk_fails(tiny_fs: Path, open_dir: Path) -> None:
    cap = _cap_beyond(tiny_fs)
    site = site_toml(open_dir, outbox=tiny_fs / "outbox.db", outbox_max_mb=cap)
    result = run_doctor("-c", str(site), "--station", "dockA", "--json")
    doc = json.loads(result.out)
    row = next(c for c in doc["checks"] if c["name"] == "outbox disk")
    assert result.rc == 1 and doc["ok"] is False
    assert row["status"] == "fail"
    assert row["detail"].startswith(f"needs {cap:,.1f} MB for stations[dockA].outbox_max_mb = ")
    assert f"free in {tiny_fs}" in row["detail"]
    assert row["fix"].startswith("free space on that filesystem or lower stations[dockA].")


def test_gateway_store_without_room_for_its_cap_fails(tiny_fs: Path, open_dir: Path) -> None:
    cap = _cap_beyond(tiny_fs)
    site = site_toml(open_dir, extra_gateway=f"retention_max_mb = {cap}\n")
    text = site.read_text().replace(str(open_dir / "gw" / "gateway.db"), str(tiny_fs / "gw.db"))
    site.write_text(text)
    result = run_doctor("-c", str(site), "--gateway")
    assert result.rc == 1
    assert list(result.rows) == ["config", "user", "store disk", "broker", "acl"]
    store = result.rows["store disk"]
    assert store.status == "FAIL"
    assert store.detail.startswith(f"needs {cap:,.1f} MB for gateway.retention_max_mb = ")


def test_unwritable_outbox_folder_fails_for_the_service_user(open_dir: Path) -> None:
    locked = open_dir / "locked"
    locked.mkdir(mode=0o755)  # root's; nobody may not write in it
    site = site_toml(open_dir, outbox=locked / "outbox.db")
    result = run_doctor("-c", str(site), "--station", "dockA", unprivileged=True)
    row = result.rows["outbox disk"]
    assert (row.status, row.detail) == (
        "FAIL", f"cannot write in {locked}: Permission denied (user nobody)"
    )  # fmt: skip
    assert row.fix == f"chown nobody {locked} (or choose a writable path for outbox.db)"


class _SkewedDate(BaseHTTPRequestHandler):
    """Answers every GET with a Date header 10 s ahead of this host's clock."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(time.time() + 10, usegmt=True)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_clock_far_off_the_gateway_fails(open_dir: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SkewedDate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        site = site_toml(open_dir, http_port=server.server_address[1])
        result = run_doctor("-c", str(site), "--station", "dockA")
    finally:
        server.shutdown()
        server.server_close()
    clock = result.rows["clock"]
    assert clock.status == "FAIL"
    offset, rest = clock.detail.split(" s behind the gateway (±", 1)
    assert 9.9 < float(offset) < 10.1 and float(rest.split(" ")[0]) < 0.1, clock.detail
    assert clock.detail.endswith("; edge timestamps must be within 3 s")
    assert clock.fix.startswith("sync this host's clock with NTP")


def test_invalid_config_stops_after_the_config_row(open_dir: Path) -> None:
    site = site_toml(open_dir)
    site.write_text(site.read_text().replace('dock = "01"', 'dock = "01"\nbogus = 1', 1))
    result = run_doctor("-c", str(site), "--station", "dockA")
    assert result.rc == 1
    assert list(result.rows) == ["config"]
    assert result.rows["config"].detail == f"{site}: stations[0].bogus: unknown key"
    missing = run_doctor("-c", str(open_dir / "nope.toml"), "--gateway")
    assert missing.rows["config"].detail == f"{open_dir / 'nope.toml'}: file not found"
    assert "Traceback" not in result.err + missing.err


def test_usage_needs_a_station_or_the_gateway(open_dir: Path) -> None:
    site = site_toml(open_dir)
    for args in ([], ["--station", "dockA", "--gateway"]):
        result = run_doctor("-c", str(site), *args)
        assert result.rc == 2
        assert "give exactly one of --station ID or --gateway" in result.err


def test_json_lists_every_row(open_dir: Path) -> None:
    give_to_nobody(open_dir / "outbox")
    site = site_toml(open_dir, devices=scale_toml(str(open_dir / "absent")))
    result = run_doctor("-c", str(site), "--station", "dockA", "--json")
    doc = json.loads(result.out)
    assert doc["target"] == "station dockA"
    assert [c["name"] for c in doc["checks"]] == [
        "config", "user", "outbox disk", "serial scale1", "broker", "acl", "clock"
    ]  # fmt: skip
    assert {c["status"] for c in doc["checks"]} <= {"ok", "warn", "fail"}
    assert doc["summary"]["fail"] == 2  # the port and the broker


def test_gateway_host_probes_its_own_doctor_topic(secure: SecureBroker, open_dir: Path) -> None:
    site = site_toml(open_dir, secure.broker.url)
    give_to_nobody(open_dir / "gw")
    result = run_doctor("-c", str(site), "--gateway", env=creds(secure, "gw-1"), unprivileged=True)
    assert result.rc == 0, result.out
    assert list(result.rows) == ["config", "user", "store disk", "broker", "acl"]
    assert result.rows["config"].detail == f"{site}: site LGG, gateway gw-1"
    assert result.rows["store disk"].detail.endswith(
        f" MB free in {open_dir}/gw; no size cap (gateway.retention_max_mb = 0)"
    )
    acl = result.rows["acl"]
    assert (acl.status, acl.detail.split(" (probe")[0]) == (
        "ok", f"user 'gw-1' may write and read {BASE}/gateway/gw-1/doctor"
    )  # fmt: skip
