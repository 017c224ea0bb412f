"""The station screen in a real chromium: hostile code text stays text, colours follow outcomes."""

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from dockscan.config import StationConfig
from edge.devices.base import CapturedWeight, ScanRead
from edge.outbox import Outbox
from edge.screen import ScreenHub, ScreenServer
from edge.station import Station


@pytest.mark.browser
def test_screen_renders_outcomes_and_keeps_code_as_text(
    tmp_path: Path, chromium_browser: Browser
) -> None:
    station = Station("s1", StationConfig(id="st1", dock="d1"), Outbox(tmp_path / "o.db"), "t")
    hub = ScreenHub("st1", "d1")
    station.on_captured.append(hub.captured)
    station.on_devices.append(hub.devices)
    server = ScreenServer(hub, "127.0.0.1:0")
    server.start()
    try:
        with chromium_browser.new_context(bypass_csp=True) as context:
            page = context.new_page()  # lets the test evaluate its probes
            page.goto(server.url)
            page.wait_for_function("document.getElementById('stream').textContent === 'live'")
            page.click("#sound")  # the AudioContext needs a user gesture
            hostile = "<img src=x id=pwned onerror=alert(1)>"
            station.on_scan(ScanRead("scanner1", "scanner", hostile, "code128", t=1.0))
            start = time.monotonic()
            station.on_weight(CapturedWeight("scale1", 4.2, "4.200", "kg", b"4.200", t=1.1))
            page.wait_for_function("document.body.className === 'outcome-OK'", timeout=2000)
            print(f"capture to rendered: {(time.monotonic() - start) * 1000:.0f} ms")
            assert page.text_content("#code") == hostile
            assert page.text_content("#weight") == "4.200 kg"
            assert page.query_selector("#pwned") is None
            station.on_weight(CapturedWeight("scale1", 1.0, "1.000", "kg", b"1.000", t=5.0))
            station.tick(9.0)
            page.wait_for_function("document.body.className === 'outcome-NO_READ'")
            assert page.text_content("#outcome") == "NO READ"
            red = "getComputedStyle(document.body).backgroundColor === 'rgb(179, 38, 30)'"
            page.wait_for_function(red, timeout=2000)  # after the 0.1 s transition
            station.on_device_state("scale1", "scale", "disconnected", "unplugged")
            page.wait_for_function("document.getElementById('devices').textContent.length > 0")
            assert "scale1: disconnected (unplugged)" in page.text_content("#devices")
    finally:
        server.stop()
