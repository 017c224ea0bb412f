"""SimulatedStation ground truth against the real drivers over ptys, and the sim CLI."""

import itertools
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import serial
from click.testing import CliRunner

from dockscan.config import ScaleConfig, ScannerConfig
from edge.devices.scale import ScaleDevice
from edge.devices.scanner import ScannerDevice
from edge.vision import Decoder, DecoderSettings
from firmware_sim.camera import CameraScene
from firmware_sim.cli import sim as sim_group
from firmware_sim.labels import LabelCode
from firmware_sim.scanner import ScannerSim
from firmware_sim.station_camera import StationCamera, spoil_label
from firmware_sim.station_sim import SimulatedStation, StationMix, StationTiming, read_script
from tests.edge.serial_support import Recorder
from tests.support.broker import wait_for

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_ok(text: str) -> bool:
    """Independent UPU S10 check (mod 11)."""
    check = 11 - sum(int(d) * w for d, w in zip(text[2:10], S10_WEIGHTS, strict=True)) % 11
    return int(text[10]) == {10: 0, 11: 5}.get(check, check)


def gs1_ok(digits: str) -> bool:
    """Independent GS1 mod-10 check over a whole number including its check digit."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def check_ok(text: str, kind: str) -> bool | None:
    """Return whether a generated code's check digit holds (None: not checked here)."""
    if kind == "upu_s10":
        return s10_ok(text)
    if kind == "sscc":
        return gs1_ok(text.rsplit("\x1d", 1)[-1][2:])
    return None


def test_station_truth_matches_what_the_drivers_saw(tmp_path: Path) -> None:
    station = SimulatedStation.on_links(
        tmp_path / "scale",
        tmp_path / "scan",
        protocol="mt-sics",
        seed=5,
        timing=StationTiming(interval=(1.2, 1.2)),
        mix=StationMix(no_read=0.25, no_weight=0.2, invalid=0.3, weight_kg=(0.5, 20.0)),
        count=6,
    )
    rec = Recorder()
    scale = ScaleDevice(
        ScaleConfig(
            kind="scale", id="s", protocol="mt-sics", port=str(tmp_path / "scale"), settle_ms=300
        ),
        rec,
    )
    scanner = ScannerDevice(ScannerConfig(kind="scanner", id="c", port=str(tmp_path / "scan")), rec)
    station.start()
    scale.start()
    scanner.start()
    try:
        assert station.done.wait(15)
        time.sleep(0.3)
    finally:
        scanner.stop()
        scale.stop()
        station.stop()
    truth = station.truth()
    assert len(truth) == 6
    weighed = [p for p in truth if p.kg is not None]
    scanned = [p for p in truth if p.scanned]
    assert len(weighed) < 6 and len(scanned) < 6, "the seed must give no-weight and no-read"
    assert any(not p.code.check_ok for p in truth)
    assert [w.kg for w in rec.weights] == pytest.approx([p.kg for p in weighed], abs=0.005)
    assert [s.text for s in rec.scans] == [p.code.text for p in scanned]
    for parcel in truth:
        assert check_ok(parcel.code.text, parcel.code.kind) in (None, parcel.code.check_ok)


def test_interval_range_and_count(tmp_path: Path) -> None:
    station = SimulatedStation.on_links(
        tmp_path / "a",
        tmp_path / "b",
        protocol="cas",
        seed=5,
        timing=StationTiming(interval=(0.3, 0.5), scan_after_s=0.05, gap_s=0.1),
        count=5,
    )
    station.start()
    try:
        assert station.done.wait(5)
    finally:
        station.stop()
    starts = [p.t_start for p in station.truth()]
    assert len(starts) == 5
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(0.29 <= g <= 0.6 for g in gaps), gaps
    assert not (tmp_path / "a").exists(), "stopping unplugs the owned simulators"


def test_stop_without_count_is_prompt(tmp_path: Path) -> None:
    station = SimulatedStation.on_links(tmp_path / "a", tmp_path / "b", seed=1)
    station.start()
    wait_for(lambda: station.truth(), 2, what="first parcel")
    began = time.monotonic()
    station.stop()
    assert time.monotonic() - began < 1.0
    assert station.done.is_set()


def test_scripted_parcels_come_first_then_random_ones(tmp_path: Path) -> None:
    script = tmp_path / "parcels.csv"
    script.write_text("# demo flight\nLX400000005CN,1.250\n\nLX400000019CN,3.5,unread\n")
    station = SimulatedStation.on_links(
        tmp_path / "a", tmp_path / "b", seed=3, count=3, script=read_script(script),
        timing=StationTiming(interval=(0.3, 0.3), scan_after_s=0.05, gap_s=0.1),
    )  # fmt: skip
    station.start()
    try:
        assert station.done.wait(5)
    finally:
        station.stop()
    truth = station.truth()
    assert [(p.code.text, p.kg) for p in truth[:2]] == [("LX400000005CN", 1.25),
                                                        ("LX400000019CN", 3.5)]  # fmt: skip
    assert not truth[1].scanned  # its label cannot be read
    assert truth[2].code.text not in ("LX400000005CN", "LX400000019CN")


def test_sim_station_refuses_a_bad_parcel_script(tmp_path: Path) -> None:
    script = tmp_path / "parcels.csv"
    script.write_text("LX400000005CN,1.2\nLX400000019CN,heavy\n")
    args = ["station", "--scale-link", str(tmp_path / "s"), "--scanner-link", str(tmp_path / "c")]
    result = CliRunner().invoke(sim_group, [*args, "--parcels", str(script)])
    assert result.exit_code == 2
    assert "parcels.csv:2: want `code,kg[,unread]`, got 'LX400000019CN,heavy'" in result.output


@pytest.mark.parametrize("command", ["scale", "scanner", "station"])
def test_sim_commands_document_an_example(command: str) -> None:
    result = CliRunner().invoke(sim_group, [command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_sim_station_cli_runs_a_counted_session(tmp_path: Path) -> None:
    args = ["station", "--scale-link", str(tmp_path / "s"), "--scanner-link", str(tmp_path / "c")]
    args += ["--interval", "0.3", "--count", "3", "--seed", "2"]
    result = CliRunner().invoke(sim_group, args)
    assert result.exit_code == 0, result.output
    assert "3 parcels:" in result.output


def test_sim_scale_cli_rejects_a_bad_link_and_a_bad_range(tmp_path: Path) -> None:
    bad = CliRunner().invoke(sim_group, ["scale", "--link", str(tmp_path / "no" / "dir")])
    assert bad.exit_code == 1 and "cannot create" in bad.output
    rng = CliRunner().invoke(sim_group, ["station", "--scale-link", "a", "--scanner-link", "b",
                                         "--interval", "3-1"])  # fmt: skip
    assert rng.exit_code == 2 and "need 0 < low <= high" in rng.output


def test_sim_scale_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    link = tmp_path / "dock1-scale"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockscan", "sim", "scale", "--link", str(link), "--parcels", "1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: link.is_symlink(), 10, what="simulator link")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert not os.path.lexists(link)


def test_sim_scale_cli_fault_schedule_reaches_the_driver(tmp_path: Path) -> None:
    link = tmp_path / "faulty"
    args = ["sim", "scale", "--link", str(link), "--parcels", "0.8", "--seed", "4"]
    args += ["--garbage-every", "0.5", "--unplug-every", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockscan", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rec = Recorder()
    device = ScaleDevice(ScaleConfig(kind="scale", id="s", protocol="mt-sics", port=str(link)), rec)
    try:
        wait_for(lambda: link.is_symlink(), 10, what="simulator link")
        device.start()
        wait_for(lambda: device.counters["reconnects"] >= 1, 6, what="unplug and replug")
        wait_for(lambda: device.counters["frames_ok"] > 10, 5, what="valid frames again")
    finally:
        device.stop()
        proc.terminate()
        proc.wait(10)
    counters = device.counters
    assert counters["frames_bad"] + counters["bytes_dropped"] > 0
    assert "disconnected" in rec.state_names()
    assert all(w.kg > 0.05 for w in rec.weights)


def test_code_generators_match_the_documented_check_digits() -> None:
    from firmware_sim.codes import gs1_check, gs1_ship_to, s10, s10_check, sscc, ups_1z, ups_check

    assert [s10_check(d) for d in ("12345678", "47312482", "00000000", "12345670")] == [5, 9, 5, 6]
    assert gs1_check("09528765432101234") == 6  # ]C100095287654321012346
    assert ups_check("999AA1012345678") == 4  # 1Z999AA10123456784
    rng = random.Random(9)
    for valid in (True, False):
        for _ in range(50):
            item = s10(rng, valid)
            assert re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}", item.text) and s10_ok(item.text) is valid
            code = sscc(rng, valid)
            assert re.fullmatch(r"00\d{18}", code.text) and gs1_ok(code.text[2:]) is valid
            ship = gs1_ship_to(rng, valid)
            assert ship.text.startswith("420") and "\x1d00" in ship.text
            ups = ups_1z(rng, valid)
            assert re.fullmatch(r"1Z[0-9A-Z]{16}", ups.text)
            assert (ups_check(ups.text[2:17]) == int(ups.text[17])) is valid


def test_scanner_sim_types_aim_prefix_and_terminator(tmp_path: Path) -> None:
    sim = ScannerSim(tmp_path / "scan", terminator="crlf")
    sim.start()
    try:
        with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
            sim.type_text("00095287654321012346", "gs1-128")
            sim.type_text("hello", "qrcode")
            sim.type_text("plain")
            data = b""
            deadline = time.monotonic() + 2
            while data.count(b"\r\n") < 3 and time.monotonic() < deadline:
                data += port.read(64)
    finally:
        sim.stop()
    assert data == b"]C100095287654321012346\r\n]Q1hello\r\nplain\r\n"


def read_stream(url: str, until: threading.Event, decoder: Decoder) -> list[tuple[float, set]]:
    """Read an MJPEG stream with OpenCV until `until` is set; decode each frame."""
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    assert cap.isOpened(), f"OpenCV cannot open {url}"
    seen: list[tuple[float, set]] = []
    try:
        while not until.is_set():
            ok, frame = cap.read()
            assert ok, "the stream ended early"
            seen.append((time.monotonic(), {c.text for c in decoder.decode(frame)}))
    finally:
        cap.release()
    return seen


def test_station_camera_shows_each_parcels_code_and_hides_no_reads(tmp_path: Path) -> None:
    station = SimulatedStation.on_links(
        tmp_path / "scale",
        None,
        camera_port=0,
        camera_fps=8,
        seed=11,
        timing=StationTiming(interval=(1.0, 1.0), gap_s=0.3),
        mix=StationMix(no_read=0.3, no_weight=0.2, invalid=0.2),
        count=8,
    )
    decoder = Decoder(DecoderSettings(symbologies=("code128", "gs1-128"), downscale=0.5))
    station.start()
    try:
        assert station.camera is not None
        frames = read_stream(station.camera.url, station.done, decoder)
    finally:
        station.stop()
    truth = station.truth()
    assert len(truth) == 8 and station.scanner is None
    readable = {p.code.text for p in truth if p.scanned}
    unreadable = {p.code.text for p in truth if not p.scanned}
    assert unreadable and any(p.kg is None for p in truth), "the seed must give both faults"
    assert {p.label for p in truth if not p.scanned} <= {"blank", "damaged"}
    assert all(p.label == "readable" for p in truth if p.scanned)
    decoded = set().union(*(codes for _, codes in frames))
    assert decoded == readable, (decoded ^ readable, truth)
    for t, codes in frames:  # a code is only in view while its parcel is on the scale
        for text in codes:
            parcel = next(p for p in truth if p.code.text == text)
            assert parcel.t_start - 0.05 <= t <= parcel.t_removed + 0.5, (text, t, parcel)
    assert any(not codes for _, codes in frames), "between parcels the belt is empty"


def test_station_camera_renders_only_when_the_view_changes() -> None:
    camera = StationCamera(0, seed=2, size=(960, 540), entry_s=0.2)
    try:
        belt = camera.jpeg(0)
        assert camera.jpeg(1) is belt and camera.rendered == 1
        camera.show("RR123456785GB", "code128")
        moving = [camera.jpeg(i) for i in range(2, 5)]
        time.sleep(0.25)
        resting = camera.jpeg(5)
        assert all(camera.jpeg(i) is resting for i in range(6, 20))
        assert resting not in moving and camera.rendered <= 5
        codes = Decoder().decode(cv2.imdecode(np.frombuffer(resting, np.uint8), cv2.IMREAD_COLOR))
        assert [c.text for c in codes] == ["RR123456785GB"]
        camera.clear()
        assert camera.jpeg(20) != resting and not Decoder().decode(
            cv2.imdecode(np.frombuffer(camera.jpeg(21), np.uint8), cv2.IMREAD_COLOR)
        )
    finally:
        camera.stop()


@pytest.mark.parametrize("kind", ["blank", "damaged"])
def test_spoiled_labels_do_not_decode(kind: str) -> None:
    scene = CameraScene(seed=3, width=1280, height=720, module_px=3)
    rng = random.Random(4)
    camera = Decoder(DecoderSettings(ean_fit=False))  # as a camera decodes (Decoder.from_camera)
    for text in ("RR123456785GB", "00095287654321012346", "1Z999AA10123456784"):
        face = scene.make_parcel(rng, [LabelCode(text, "code128")])
        assert [c.text for c in camera.decode(face.face)] == [text]
        spoil_label(face, kind, rng)
        assert camera.decode(face.face) == [] and face.codes == []


def test_sim_station_cli_needs_a_reader() -> None:
    runner = CliRunner()
    bad = runner.invoke(sim_group, ["station", "--scale-link", "a", "--no-scanner"])
    assert bad.exit_code == 2 and "--no-scanner needs --camera-http" in bad.output
    none = runner.invoke(sim_group, ["station", "--scale-link", "a"])
    assert none.exit_code == 2 and "--scanner-link" in none.output
    help_text = runner.invoke(sim_group, ["station", "--help"]).output
    assert "--camera-http" in help_text and "Example (camera only)" in help_text
