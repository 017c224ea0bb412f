"""`dockscan doctor` device rows: serial ports on real ptys, cameras over HTTP and folders."""

import grp
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import serial

from firmware_sim.scales import ScaleSim, make_scale_sim
from tests.support.broker import free_port
from tests.test_doctor_helpers import camera_toml, open_dir, run_doctor, scale_toml, site_toml

__all__ = ["open_dir"]  # the fixture, imported for pytest


@pytest.fixture
def scale(open_dir: Path) -> Iterator[ScaleSim]:
    """A simulated MT-SICS scale on a pty behind the symlink <open_dir>/scale."""
    sim = make_scale_sim("mt-sics", str(open_dir / "scale"))
    sim.start()
    yield sim
    sim.stop()


def doctor_rows(open_dir: Path, devices: str, unprivileged: bool = False, *extra: str):
    """Run the doctor on station dockA with these devices; return its rows."""
    site = site_toml(open_dir, devices=devices)
    result = run_doctor("-c", str(site), "--station", "dockA", *extra, unprivileged=unprivileged)
    assert result.rc == 1  # no broker here: the broker row fails in every run
    assert "Traceback" not in result.err, result.err
    return result.rows


def test_missing_port(open_dir: Path) -> None:
    port = open_dir / "ttyUSB9"
    row = doctor_rows(open_dir, scale_toml(str(port)))["serial scale1"]
    assert (row.status, row.detail) == ("FAIL", f"{port}: missing")
    assert row.fix == f"plug the device in and check the path: ls -l {open_dir}"


def test_unplugged_port_is_a_dangling_link(open_dir: Path) -> None:
    master, slave = os.openpty()
    (open_dir / "scale").symlink_to(os.ttyname(slave))  # a by-id link left behind on unplug
    os.close(slave)
    os.close(master)  # the pty is gone
    row = doctor_rows(open_dir, scale_toml(str(open_dir / "scale")))["serial scale1"]
    assert (row.status, row.detail) == ("FAIL", f"{open_dir}/scale: missing (dangling link)")


@pytest.mark.parametrize("mode", [0o000, 0o660])
def test_unreadable_port_names_the_group_to_join(
    open_dir: Path, scale: ScaleSim, mode: int
) -> None:
    tty = scale.port.tty_path
    os.chmod(tty, mode)  # root's pty; nobody is not in its group
    group = grp.getgrgid(os.stat(tty).st_gid).gr_name  # tty on a host, root in some containers
    rows = doctor_rows(open_dir, scale_toml(str(open_dir / "scale")), True)
    row = rows["serial scale1"]
    shown = "c---------" if mode == 0 else "crw-rw----"
    assert row.status == "FAIL"
    assert row.detail == (
        f"{open_dir}/scale: permission denied for user nobody ({tty} is root:{group} {shown})"
    )
    join = f"add the user to {group}: usermod -aG {group} nobody (then log in again)"
    if mode == 0:
        assert (
            row.fix == f'let group {group} read and write it (udev rule MODE="0660"), then {join}'
        )
    else:
        assert row.fix == join


def test_port_locked_by_another_program_is_in_use(open_dir: Path, scale: ScaleSim) -> None:
    holder = serial.Serial(str(open_dir / "scale"), exclusive=True)  # flock, like a running agent
    try:
        row = doctor_rows(open_dir, scale_toml(str(open_dir / "scale")))["serial scale1"]
    finally:
        holder.close()
    assert (row.status, row.detail) == ("FAIL", f"{open_dir}/scale: in use by another program")
    assert row.fix.startswith(f"stop the other program (fuser -v {scale.port.tty_path})")


def test_healthy_port_opens_with_the_configured_settings(open_dir: Path, scale: ScaleSim) -> None:
    devices = scale_toml(str(open_dir / "scale")).replace('port = "', 'baudrate = 19200\nport = "')
    row = doctor_rows(open_dir, devices)["serial scale1"]
    assert (row.status, row.detail) == (
        "ok", f"{open_dir}/scale: opened read/write at 19200 baud 8N1"
    )  # fmt: skip


def test_camera_url_that_does_not_answer(open_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"  # nothing listens there
    row = doctor_rows(open_dir, camera_toml(url))["camera cam1"]
    assert (row.status, row.detail) == ("FAIL", f"cannot open url {url}")
    assert row.fix.startswith(f"check camera.source {url}: is the camera powered")


def test_camera_that_accepts_but_never_answers_fails_within_the_timeout(open_dir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never replies
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/stream.mjpg"
        started = time.monotonic()
        row = doctor_rows(open_dir, camera_toml(url), False, "--timeout", "2")["camera cam1"]
        took = time.monotonic() - started
    assert (row.status, row.detail) == ("FAIL", f"cannot open url {url}: no answer within 2 s")
    assert took < 15, took


def test_camera_with_no_code_in_view_warns(open_dir: Path) -> None:
    folder = open_dir / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "belt.png"), np.full((240, 320, 3), 90, np.uint8))  # empty belt
    row = doctor_rows(open_dir, camera_toml(str(folder)))["camera cam1"]
    assert row.status == "warn"
    assert row.detail.startswith(f"{folder}: opened, no code in view (1 frames of 320x240 in ")
    assert row.fix == "hold a label under the camera; check roi, downscale and symbologies"
