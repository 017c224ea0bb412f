"""The serial scanner driver against the scanner simulator over real pseudo-terminals."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.devices.scanner import split_aim
from firmware_sim.codes import GS
from tests.edge.serial_support import Bench, open_bench
from tests.support.broker import wait_for


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    """Simulators and drivers on tmp_path links, stopped after the test."""
    with open_bench(tmp_path) as b:
        yield b


@pytest.mark.parametrize(
    ("text", "symbology", "rest"),
    [
        ("]C100095287654321012346", "gs1-128", "00095287654321012346"),
        ("]C0RR123456785CN", "code128", "RR123456785CN"),
        ("]d2010952876543210", "datamatrix", "010952876543210"),
        ("]Q1hello", "qrcode", "hello"),
        ("]Q3hello", "qrcode", "hello"),
        ("]E04006381333931", "ean13", "4006381333931"),
        ("]E46123456", "ean8", "6123456"),
        ("]I012345670", "itf", "12345670"),
        ("]A0CODE39", "code39", "CODE39"),
        ("]L0pdf", "pdf417", "pdf"),
        ("RR123456785CN", "unknown", "RR123456785CN"),
        ("]X9kept", "unknown", "]X9kept"),
        ("]C", "unknown", "]C"),
    ],
)
def test_aim_prefix(text: str, symbology: str, rest: str) -> None:
    assert split_aim(text) == (symbology, rest)


CODES = [
    ("RR123456785CN", "code128", "code128"),
    ("00095287654321012346", "gs1-128", "gs1-128"),
    (f"42094043{GS}00095287654321012346", "gs1-128", "gs1-128"),
    ("1Z999AA10123456784", "", "unknown"),
]


@pytest.mark.parametrize("terminator", ["cr", "lf", "crlf"])
def test_codes_arrive_whole_with_gs_and_symbology(bench: Bench, terminator: str) -> None:
    sim = bench.scanner_sim(terminator=terminator)
    device, rec = bench.scanner(str(sim.link), terminator=terminator)
    wait_for(lambda: device.state == "ok", 2, what="scanner open")
    for text, symbology, _ in CODES:
        sim.type_text(text, symbology)
    wait_for(lambda: len(rec.scans) == len(CODES), 3, what="all scans")
    got = [(s.text, s.symbology, s.source_kind, s.device) for s in rec.scans]
    assert got == [(t, sym, "scanner", "scan1") for t, _, sym in CODES]
    assert GS in rec.scans[2].text


def test_crlf_scanner_configured_as_cr_still_reads_clean_codes(bench: Bench) -> None:
    sim = bench.scanner_sim(terminator="crlf")
    device, rec = bench.scanner(str(sim.link), terminator="cr")
    wait_for(lambda: device.state == "ok", 2, what="scanner open")
    sim.type_text("RR123456785CN", "code128")
    sim.type_text("EE000000005US", "code128")
    wait_for(lambda: len(rec.scans) == 2, 3, what="scans")
    assert [s.text for s in rec.scans] == ["RR123456785CN", "EE000000005US"]


def test_control_characters_and_non_utf8_bytes_are_kept(bench: Bench) -> None:
    sim = bench.scanner_sim(terminator="cr", aim=False)
    device, rec = bench.scanner(str(sim.link), terminator="cr")
    wait_for(lambda: device.state == "ok", 2, what="scanner open")
    sim.send(b"A\x1dB\x04C\r\xe9t\xe9\r\r")
    wait_for(lambda: len(rec.scans) == 2, 3, what="scans")
    assert [s.text for s in rec.scans] == ["A\x1dB\x04C", "été"]
    assert device.counters["not_utf8"] == 1 and device.counters["empty"] == 1


def test_overlong_line_without_terminator_is_dropped_and_counted(bench: Bench) -> None:
    sim = bench.scanner_sim(terminator="cr")
    device, rec = bench.scanner(str(sim.link), terminator="cr")
    wait_for(lambda: device.state == "ok", 2, what="scanner open")
    sim.send(b"x" * 5000 + b"\r")
    sim.type_text("RR123456785CN", "code128")
    wait_for(lambda: rec.scans, 3, what="scan after junk")
    assert [s.text for s in rec.scans] == ["RR123456785CN"]
    assert device.counters["bytes_dropped"] == 5001


def test_scanner_unplug_and_replug(bench: Bench) -> None:
    sim = bench.scanner_sim(terminator="cr")
    device, rec = bench.scanner(str(sim.link), terminator="cr")
    wait_for(lambda: device.state == "ok", 2, what="scanner open")
    sim.unplug()
    wait_for(lambda: device.state == "disconnected", 2, what="disconnected")
    time.sleep(0.5)
    sim.replug()
    wait_for(lambda: device.state == "ok", 2.0, what="reopened within 2 s")
    sim.type_text("CP123456706DE", "code128")
    wait_for(lambda: rec.scans, 2, what="scan after replug")
    assert rec.scans[0].text == "CP123456706DE"
    assert rec.state_names() == ["starting", "ok", "disconnected", "ok"]
    assert device.counters["reconnects"] == 1


def test_scanner_has_no_commands(bench: Bench) -> None:
    sim = bench.scanner_sim()
    device, _ = bench.scanner(str(sim.link))
    assert device.command("zero", {}) == (False, "scanner has no 'zero' command")
