"""The station screen over real HTTP: page, static files, SSE updates and escaping."""

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockscan.config import StationConfig
from edge.devices.base import CapturedWeight, ScanRead
from edge.outbox import Outbox
from edge.screen import ScreenHub, ScreenServer
from edge.station import Station

HOSTILE = '<img src=x onerror="alert(1)">&\x07'


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[tuple[Station, ScreenServer]]:
    cfg = StationConfig(id="st1", dock="d1")
    station = Station("s1", cfg, Outbox(tmp_path / "o.db"), "t/parcel")
    hub = ScreenHub("st1", "d1")
    station.on_captured.append(hub.captured)
    station.on_devices.append(hub.devices)
    server = ScreenServer(hub, "127.0.0.1:0")
    server.start()
    yield station, server
    server.stop()


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, dict(resp.headers), resp.read()


def test_page_and_assets_are_served_without_cdn(screen: tuple[Station, ScreenServer]) -> None:
    _, server = screen
    status, headers, body = get(server.url)
    assert status == 200 and b"/static/screen.js" in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    js = get(server.url + "static/screen.js")[2].decode()
    assert "innerHTML" not in js and "textContent" in js and "AudioContext" in js
    for asset in (body.decode(), js, get(server.url + "static/screen.css")[2].decode()):
        assert "http://" not in asset and "https://" not in asset


def test_unknown_path_is_404(screen: tuple[Station, ScreenServer]) -> None:
    _, server = screen
    with pytest.raises(urllib.error.HTTPError) as err:
        get(server.url + "nope")
    assert err.value.code == 404
    err.value.close()


def read_events(url: str, lines: list[str], stop: threading.Event) -> None:
    """Read SSE data lines until stopped (runs on a thread)."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while not stop.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines.extend(line.decode() for line in done if line.startswith(b"data: "))


def test_capture_reaches_the_event_stream_escaped(screen: tuple[Station, ScreenServer]) -> None:
    station, server = screen
    lines: list[str] = []
    stop = threading.Event()
    reader = threading.Thread(target=read_events, args=(server.url, lines, stop))
    reader.start()
    try:
        deadline = time.monotonic() + 5
        while not lines and time.monotonic() < deadline:
            time.sleep(0.01)
        assert json.loads(lines[0][6:])["last"] is None  # the initial snapshot
        station.on_scan(ScanRead("scanner1", "scanner", HOSTILE, "code128", t=10.0))
        captured_at = time.monotonic()
        station.on_weight(CapturedWeight("scale1", 1.5, "1.500", "kg", b"1.500", t=10.5))
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        seen_after = time.monotonic() - captured_at
        raw = lines[-1]
        assert "<" not in raw and ">" not in raw and "&" not in raw  # escaped as \\u003c etc.
        last = json.loads(raw[6:])["last"]
        assert last["outcome"] == "OK" and last["weight"] == "1.500 kg"
        assert last["code"] == '<img src=x onerror="alert(1)">&\\x07'
        print(f"capture to SSE: {seen_after * 1000:.1f} ms")
        station.on_device_state("scale1", "scale", "disconnected", "<b>unplugged</b>")
        deadline = time.monotonic() + 5
        while len(lines) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert json.loads(lines[-1][6:])["devices"]["scale1"]["state"] == "disconnected"
    finally:
        stop.set()
        server.stop()
        reader.join(5)


def test_state_endpoint(screen: tuple[Station, ScreenServer]) -> None:
    station, server = screen
    station.on_scan(ScanRead("scanner1", "scanner", "RR123456785CN", "code128", t=1.0))
    station.on_weight(CapturedWeight("scale1", 2.0, "2.000", "kg", b"2.000", t=1.2))
    _, headers, body = get(server.url + "state")
    state = json.loads(body)
    assert headers["Content-Type"] == "application/json"
    assert (state["last"]["code"], state["last"]["kind"]) == ("RR123456785CN", "upu_s10")


def test_bad_bind_is_a_config_error() -> None:
    from dockscan.errors import ConfigError

    with pytest.raises(ConfigError, match="screen_bind"):
        ScreenServer(ScreenHub("a", "b"), "nonsense")


def test_refused_event_is_shown_as_not_captured() -> None:
    hub = ScreenHub("st1", "d1")
    hub.refused("OK", "outbox full: new events are refused")
    _, state = hub.snapshot()
    assert state["last"]["outcome"] == "NOT_CAPTURED" and "outbox full" in state["last"]["reason"]
