"""The scale driver against the simulators over real pseudo-terminals (and TCP)."""

import os
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from edge.devices.protocols import get_protocol
from tests.edge.serial_support import Bench, Rfc2217Bridge, open_bench
from tests.support.broker import free_port, wait_for

MODES = [
    ("mt-sics", "poll"),
    ("mt-sics", "stream"),
    ("toledo-8217", "poll"),
    ("toledo-continuous", "stream"),
    ("cas", "stream"),
    ("sma", "poll"),
    ("nci", "poll"),
]
FAST = {"settle_ms": 200, "poll_interval_s": 0.05}


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    """Simulators and drivers on tmp_path links, stopped after the test."""
    with open_bench(tmp_path) as b:
        yield b


@pytest.mark.parametrize(("protocol", "mode"), MODES)
def test_one_capture_per_parcel(bench: Bench, protocol: str, mode: str) -> None:
    sim = bench.scale_sim(protocol, seed=7, rate_hz=20)
    device, rec = bench.scale(protocol, str(sim.link), mode=mode, **FAST)
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    sim.place(2.5)
    first = wait_for(lambda: rec.weights, 3, what="capture")[0]
    assert first.kg == pytest.approx(2.5, abs=0.005)
    parsed = get_protocol(protocol).parse(first.raw)
    assert parsed.value == first.device_value and parsed.unit == first.device_unit
    assert first.device == "scale1" and first.stable
    time.sleep(0.5)
    assert len(rec.weights) == 1, "a parcel that stays on the scale is captured once"
    sim.remove()
    time.sleep(0.4)
    sim.place(7.25)
    wait_for(lambda: len(rec.weights) == 2, 3, what="second capture")
    assert rec.weights[1].kg == pytest.approx(7.25, abs=0.005)
    assert device.counters["frames_bad"] == 0 and device.counters["captures"] == 2
    assert rec.state_names()[:2] == ["starting", "ok"]


def test_values_keep_the_device_string_and_unit(bench: Bench) -> None:
    sim = bench.scale_sim("nci", unit="lb", division=0.005, noise=False)
    _, rec = bench.scale("nci", str(sim.link), **FAST)
    sim.place(1.25)
    weight = wait_for(lambda: rec.weights, 3, what="capture")[0]
    assert (weight.device_value, weight.device_unit) == ("01.250", "LB")
    assert weight.kg == float(Decimal("1.250") * Decimal("0.45359237"))
    assert weight.raw == b"\n01.250LB\r\nS00\r\x03"


@pytest.mark.parametrize("protocol", ["mt-sics", "sma", "nci", "toledo-8217"])
def test_zero_reaches_the_simulator(bench: Bench, protocol: str) -> None:
    sim = bench.scale_sim(protocol, noise=False)
    device, _ = bench.scale(protocol, str(sim.link), **FAST)
    sim.scale.hold(0.5)  # drift within the zero range
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    ok, detail = device.command("zero", {})
    assert ok, detail
    sent = get_protocol(protocol).commands["zero"].strip(b"\r\n")
    wait_for(lambda: sent in sim.received, 1, what="zero command in the simulator")
    wait_for(lambda: sim.scale.zero_offset == pytest.approx(0.5), 1, what="zeroed")


def test_zero_outside_the_range_is_refused(bench: Bench) -> None:
    sim = bench.scale_sim("mt-sics", noise=False)
    device, _ = bench.scale("mt-sics", str(sim.link), **FAST)
    sim.scale.hold(10.0)
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    assert device.command("zero", {}) == (False, "above the allowed range")
    assert sim.scale.zero_offset == 0.0


@pytest.mark.parametrize("protocol", ["mt-sics", "sma", "toledo-8217"])
def test_tare_reaches_the_simulator(bench: Bench, protocol: str) -> None:
    sim = bench.scale_sim(protocol, noise=False)
    device, _ = bench.scale(protocol, str(sim.link), **FAST)
    sim.scale.hold(1.5)
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    ok, detail = device.command("tare", {})
    assert ok, detail
    wait_for(lambda: sim.scale.tare == pytest.approx(1.5), 2, what="tare in the simulator")


def test_tare_in_motion_fails_with_the_reason(bench: Bench) -> None:
    sim = bench.scale_sim("sma", noise=False)
    device, _ = bench.scale("sma", str(sim.link), **FAST)
    sim.scale.hold(1.5)
    sim.set_faults(stuck_motion=True)
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    assert device.command("tare", {}) == (False, "tare error")
    assert sim.scale.tare == 0.0


def test_unsupported_commands_say_so(bench: Bench) -> None:
    sim = bench.scale_sim("cas")
    device, _ = bench.scale("cas", str(sim.link), mode="stream")
    assert device.command("zero", {}) == (False, "cas has no 'zero' command")
    assert device.command("tare", {}) == (False, "cas has no 'tare' command")


@pytest.mark.parametrize(("protocol", "mode"), [("mt-sics", "poll"), ("cas", "stream")])
def test_unplug_and_replug_resumes_within_two_seconds(
    bench: Bench, protocol: str, mode: str
) -> None:
    sim = bench.scale_sim(protocol, seed=3)
    device, rec = bench.scale(protocol, str(sim.link), mode=mode, **FAST)
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    old_tty = os.readlink(sim.link)
    sim.unplug()
    wait_for(lambda: device.state == "disconnected", 2, what="disconnected")
    assert device.reason and str(sim.link) in device.reason
    time.sleep(1.0)  # stay unplugged through a few retries
    assert not sim.link.exists()
    sim.replug()
    replugged = time.monotonic()
    assert os.readlink(sim.link) != old_tty or os.path.exists(old_tty)
    before = device.counters["frames_ok"]
    wait_for(lambda: device.state == "ok" and device.counters["frames_ok"] > before, 2.0)
    assert time.monotonic() - replugged < 2.0
    assert device.counters["reconnects"] == 1
    sim.place(3.2)
    wait_for(lambda: rec.weights, 3, what="capture after replug")
    names = rec.state_names()
    assert names.index("disconnected") < len(names) - 1 and names[-1] == "ok"


def test_missing_port_reports_disconnected_and_connects_when_it_appears(bench: Bench) -> None:
    link = bench.tmp_path / "later"
    device, rec = bench.scale("mt-sics", str(link), **FAST)
    wait_for(lambda: device.state == "disconnected", 2, what="disconnected")
    assert "cannot open" in device.reason
    bench.scale_sim("mt-sics", name="later")
    wait_for(lambda: device.state == "ok", 2, what="connect after the port appears")
    assert rec.state_names() == ["starting", "disconnected", "ok"]


def test_overload_and_underload_are_faults_not_weights(bench: Bench) -> None:
    sim = bench.scale_sim("mt-sics", noise=False)
    device, rec = bench.scale("mt-sics", str(sim.link), **FAST)
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    sim.set_faults(overload=True)
    wait_for(lambda: device.state == "fault", 2, what="fault")
    assert device.reason == "overload"
    sim.set_faults(overload=False, underload=True)
    wait_for(lambda: device.reason == "underload", 2, what="underload")
    sim.set_faults(underload=False)
    wait_for(lambda: device.state == "ok", 2, what="back to ok")
    assert rec.weights == []


def test_stuck_in_motion_gives_no_weight(bench: Bench) -> None:
    sim = bench.scale_sim("toledo-8217")
    device, rec = bench.scale("toledo-8217", str(sim.link), **FAST)
    sim.set_faults(stuck_motion=True)
    sim.place(4.0)
    time.sleep(1.2)
    assert rec.weights == [] and device.counters["frames_ok"] > 5


@pytest.mark.parametrize(
    ("protocol", "mode"), [("mt-sics", "stream"), ("toledo-continuous", "stream"), ("sma", "poll")]
)
def test_garbage_is_counted_and_never_a_weight(bench: Bench, protocol: str, mode: str) -> None:
    sim = bench.scale_sim(protocol, seed=5, rate_hz=20)
    device, rec = bench.scale(protocol, str(sim.link), mode=mode, **FAST)
    wait_for(lambda: device.state == "ok", 3, what="first frame")
    sim.place(2.0)
    wait_for(lambda: rec.weights, 3, what="capture")
    for _ in range(10):
        sim.inject_garbage(40)
        time.sleep(0.05)
    time.sleep(0.5)
    counters = device.counters
    assert counters["frames_bad"] + counters["bytes_dropped"] > 0
    assert len(rec.weights) == 1
    assert device._thread is not None and device._thread.is_alive()


def test_wrong_protocol_selected_counts_bad_frames_and_stalls(bench: Bench) -> None:
    sim = bench.scale_sim("cas", rate_hz=20)
    device, rec = bench.scale("mt-sics", str(sim.link), mode="stream", stall_after_s=1, **FAST)
    sim.place(2.0)
    wait_for(lambda: device.counters["frames_bad"] > 10, 3, what="bad frames")
    wait_for(lambda: device.state == "stalled", 5, what="stalled")
    assert rec.weights == [] and device.counters["frames_ok"] == 0


def test_socket_url_reaches_the_tcp_simulator(bench: Bench) -> None:
    port = free_port()
    sim = bench.scale_sim("mt-sics", tcp_port=port)
    device, rec = bench.scale("mt-sics", f"socket://127.0.0.1:{port}", **FAST)
    sim.place(5.5)
    weight = wait_for(lambda: rec.weights, 3, what="capture over TCP")[0]
    assert weight.kg == pytest.approx(5.5, abs=0.005)
    ok, _ = device.command("tare", {})
    assert ok and sim.scale.tare == pytest.approx(5.5, abs=0.005)


def test_stopped_stream_is_reported_stalled_and_restarted(bench: Bench) -> None:
    sim = bench.scale_sim("mt-sics", noise=False)
    device, rec = bench.scale("mt-sics", str(sim.link), mode="stream", stall_after_s=1, **FAST)
    wait_for(lambda: device.state == "ok", 3, what="streaming")
    sim.call(lambda: setattr(sim, "streaming", False))  # e.g. the balance was reset
    wait_for(lambda: "stalled" in rec.state_names(), 5, what="stalled")
    wait_for(lambda: rec.state_names()[-1] == "ok", 2, what="stream restarted")
    assert sim.received.count(b"SIR") == 2
    assert rec.state_names()[-2:] == ["stalled", "ok"]


@pytest.mark.filterwarnings("ignore:set(Daemon|Name):DeprecationWarning")  # inside pyserial 3.5
def test_rfc2217_url_reaches_the_simulator_through_a_port_server(bench: Bench) -> None:
    sim = bench.scale_sim("mt-sics", noise=False)
    with Rfc2217Bridge(str(sim.link)) as bridge:
        device, rec = bench.scale("mt-sics", f"rfc2217://127.0.0.1:{bridge.port}", **FAST)
        sim.place(4.2)
        weight = wait_for(lambda: rec.weights, 5, what="capture over RFC 2217")[0]
        assert (weight.device_value, weight.device_unit) == ("4.200", "kg")
        device.stop()
