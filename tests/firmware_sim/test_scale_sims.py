"""Scale simulators over real pseudo-terminals: the shared vectors in both directions, faults."""

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from edge.devices.protocols import PROTOCOLS, Reading, get_protocol
from firmware_sim.scales import SIMULATORS, ScaleSim, make_scale_sim
from firmware_sim.scales.physics import PhysicalScale
from tests.data.scale_vectors import VECTORS, Vector, apply_state
from tests.edge.test_scale_protocols import check_expectation
from tests.support.broker import free_port


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator:
    """Start simulators on tmp_path links; stop them after the test."""
    sims: list[ScaleSim] = []

    def start(protocol: str, **options: object) -> ScaleSim:
        sim = make_scale_sim(protocol, str(tmp_path / f"sim{len(sims)}"), **options)
        sim.start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


def read_for(port: serial.SerialBase, seconds: float, until: int = 0) -> bytes:
    """Read for `seconds`, or until `until` bytes arrived."""
    data, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and len(data) >= until):
        data += port.read(port.in_waiting or 1)
    return data


def test_every_protocol_has_a_simulator() -> None:
    assert set(SIMULATORS) == set(PROTOCOLS)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_simulator_produces_the_vector_and_the_driver_parses_it(start_sim, vector: Vector) -> None:
    sim = start_sim(vector.protocol, noise=False, **vector.sim)
    apply_state(sim, vector.state)
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        if vector.request is None:
            data = read_for(port, 0.5)
        else:
            port.write(vector.request)
            data = read_for(port, 3.0, until=len(vector.frame))
    proto = get_protocol(vector.protocol)
    frames = proto.framer().feed(data)
    if vector.request is None:
        assert vector.frame in frames
    else:
        assert data == vector.frame
    check_expectation(proto.parse(vector.frame), vector)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_simulator_answers_every_driver_request(start_sim, protocol: str) -> None:
    proto = get_protocol(protocol)
    sim = start_sim(protocol, noise=False)
    sim.scale.hold(0.5)
    requests = [proto.poll_request, proto.stream_request, *proto.commands.values()]
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        for request in filter(None, requests):
            port.reset_input_buffer()
            port.write(request)
            frames = proto.framer().feed(read_for(port, 0.3))
            if request in proto.commands.values() and not proto.acknowledged:
                continue  # 8217 Z/T/C are silent by design
            assert frames, f"no reply to {request!r}"
            parsed = [proto.parse(f) for f in frames]  # raises if the sim speaks badly
            name = next((n for n, r in proto.commands.items() if r == request), None)
            if name:  # a streamed weight may still be in flight ahead of the reply
                assert any(proto.match_reply(name, p) is not None for p in parsed), parsed
    if proto.commands.get("zero") and proto.acknowledged:
        assert sim.scale.zero_offset == pytest.approx(0.5)


def test_8217_echo_probe_like_odoo(start_sim) -> None:
    sim = start_sim("toledo-8217")
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        port.write(b"Ehello")
        assert read_for(port, 1.0, until=8) == b"\x02E\rhello"
        port.write(b"F")
        port.write(b"xyz")
        assert read_for(port, 0.3) == b""


@pytest.mark.parametrize(
    ("protocol", "kg", "start", "frame", "stop"),
    [
        ("mt-sics", 1.0, b"SIR\r\n", b"S S      1.000 kg\r\n", b"@\r\n"),  # SIR until reset
        ("sma", 2.0, b"\nR\r", b"\n 1G       2.000kg \r", b"\nW\r"),  # repeat until next command
    ],
)
def test_streaming_runs_until_stopped(
    start_sim, protocol: str, kg: float, start: bytes, frame: bytes, stop: bytes
) -> None:
    sim = start_sim(protocol, noise=False, rate_hz=20)
    sim.scale.hold(kg)
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        port.write(start)
        frames = get_protocol(protocol).framer().feed(read_for(port, 0.5))
        assert len(frames) >= 5 and set(frames) == {frame}
        port.write(stop)
        time.sleep(0.2)
        port.reset_input_buffer()
        assert read_for(port, 0.3) == b""


def test_unplug_removes_the_link_and_replug_repoints_it(start_sim) -> None:
    sim = start_sim("cas")
    port = serial.serial_for_url(str(sim.link), timeout=0.05)
    sim.unplug()
    assert not os.path.lexists(sim.link)
    with pytest.raises((serial.SerialException, OSError)):
        read_for(port, 0.5)
    port.close()
    sim.replug()
    assert os.path.islink(sim.link) and os.readlink(sim.link) == sim.port.tty_path
    with serial.serial_for_url(str(sim.link), timeout=0.05) as again:
        assert b"ST,GS," in read_for(again, 0.5)


def test_tcp_endpoint_serves_socket_clients(start_sim) -> None:
    tcp = free_port()
    sim = start_sim("mt-sics", tcp_port=tcp, noise=False)
    sim.scale.hold(3.0)
    with socket.create_connection(("127.0.0.1", tcp), timeout=2) as conn:
        conn.sendall(b"SI\r\n")
        data = b""
        while not data.endswith(b"\r\n"):
            data += conn.recv(64)
    assert data == b"S S      3.000 kg\r\n"


def test_garbage_has_no_digits_and_reaches_the_line(start_sim) -> None:
    sim = start_sim("sma", seed=1)
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        junk = sim.inject_garbage(64)
        assert not any(48 <= b <= 57 for b in junk)
        assert read_for(port, 1.0, until=64) == junk


def test_random_parcels_move_settle_and_leave(start_sim) -> None:
    sim = start_sim("cas", seed=2, settle_s=0.1, rate_hz=20)
    sim.auto_parcels((1.0, 1.0), weight=(1.0, 2.0))
    proto = get_protocol("cas")
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        readings = [proto.parse(f) for f in proto.framer().feed(read_for(port, 2.2))]
    assert all(isinstance(r, Reading) for r in readings)
    stable_loaded = [r for r in readings if r.stable and r.kg and r.kg > 0.5]
    assert stable_loaded and any(not r.stable for r in readings)
    assert any(r.stable and r.kg is not None and abs(r.kg) < 0.01 for r in readings)


def test_physics_settles_within_a_division_and_zero_tare_rules() -> None:
    scale = PhysicalScale(division=0.005, capacity=60.0, settle_s=0.3, seed=4)
    scale.place(12.345, now=0.0)
    assert scale.snapshot(0.1).motion
    settled = [scale.snapshot(0.3 + i / 100).gross for i in range(200)]
    assert max(settled) - min(settled) <= 0.005 + 1e-9
    assert abs(settled[0] - 12.345) <= 0.005
    assert scale.zero(1.0) == "range"  # 12 kg is beyond 4 % of capacity
    assert scale.set_tare(1.0) == "ok" and scale.tare == pytest.approx(12.345, abs=0.005)
    assert scale.snapshot(2.0).net == pytest.approx(0.0, abs=0.005)
    scale.remove(3.0)
    assert scale.zero(3.1) == "motion"
    assert scale.snapshot(5.0).net < 0
    scale.place(70.0, 6.0)
    assert scale.snapshot(7.0).overload


def test_unknown_protocol_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown protocol 'x'"):
        make_scale_sim("x", str(tmp_path / "x"))


@pytest.mark.parametrize(
    ("protocol", "request_bytes", "reply"),
    [
        ("mt-sics", b"ZI\r\n", b"ZI S\r\n"),
        ("mt-sics", b"TA 1.500 kg\r\n", b"TA A      1.500 kg\r\n"),
        ("mt-sics", b"TA\r\n", b"TA A      0.000 kg\r\n"),
        ("mt-sics", b"I2\r\n", b'I2 A "T72XW Standard 60.00 kg"\r\n'),
        ("sma", b"\nH\r", b"\n 1g      2.0000kg \r"),
        ("nci", b"U\r", b"\nS00\r\x03"),
        ("nci", b"W\r", b"\n02.000KG\r\nS00\r\x03"),
    ],
)
def test_simulator_command_table(start_sim, protocol: str, request_bytes: bytes, reply: bytes):
    sim = start_sim(protocol, noise=False)
    sim.scale.hold(2.0)
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        port.write(request_bytes)
        assert read_for(port, 1.0, until=len(reply)) == reply


def test_mt_sics_i0_lists_the_commands(start_sim) -> None:
    sim = start_sim("mt-sics")
    proto = get_protocol("mt-sics")
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        port.write(b"I0\r\n")
        replies = [proto.parse(f) for f in proto.framer().feed(read_for(port, 0.5))]
    assert [r.status for r in replies] == ["B"] * (len(replies) - 1) + ["A"]
    assert '"SIR"' in {r.detail.split(" ", 1)[1] for r in replies}


def test_8217_in_pounds_sends_two_decimals(start_sim) -> None:
    sim = start_sim("toledo-8217", unit="lb", division=0.01, noise=False)
    sim.scale.hold(2.0)
    with serial.serial_for_url(str(sim.link), timeout=0.05) as port:
        port.write(b"W")
        frame = read_for(port, 1.0, until=7)
    assert frame == b"\x0202.00\r"
    parsed = get_protocol("toledo-8217").parse(frame)
    assert isinstance(parsed, Reading) and (parsed.value, parsed.unit) == ("02.00", "lb")
