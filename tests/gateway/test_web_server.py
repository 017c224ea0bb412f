"""The waitress server: loopback by default, refusal elsewhere without a token, live SSE."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from dockscan.errors import ConfigError
from gateway.lease import Lease
from gateway.web.server import build, parse_bind, shutdown, stop_server
from tests.gateway.conftest import LiveServer, WebSite, site_config
from tests.gateway.web_data import insert_parcel, make_event, now_ms, set_state
from tests.support.broker import free_port, wait_for, wait_port


def test_non_loopback_bind_needs_an_access_token(
    web_site: WebSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.access_token_env") as err:
        build(web_site.cfg, "0.0.0.0:0")
    assert "not a loopback address" in str(err.value)
    monkeypatch.setenv("DOCKSCAN_TEST_UI_TOKEN", "a-long-enough-token")
    cfg = site_config(web_site.target, extra={"access_token_env": "DOCKSCAN_TEST_UI_TOKEN"})
    app, server = build(cfg, "0.0.0.0:0")
    assert app.config["ACCESS_TOKEN"] == "a-long-enough-token"
    stop_server(server)


@pytest.mark.parametrize("loop_saw_it", [False, True])
def test_a_server_whose_wake_up_pipe_is_gone_still_stops(
    web_site: WebSite, loop_saw_it: bool
) -> None:
    port = free_port()
    app, server = build(web_site.cfg, f"127.0.0.1:{port}")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    trigger = server.trigger
    os.close(trigger.trigger)  # as if something else had closed the pipe's descriptor
    if loop_saw_it:  # the loop reads end of file on the read end and closes the trigger
        wait_for(lambda: trigger._closed, 5, 0.01, "the loop closing the trigger")
    try:
        stop_server(server, thread)
        assert not thread.is_alive()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        # The read end's wrapper will not close that number again when it is collected (it
        # may be another file's by then); the loop or stop_server closed it once.
        assert trigger._closed and (trigger.socket is None or trigger.socket.fd == -1)
    finally:
        shutdown(app)


def test_bind_must_be_host_and_port() -> None:
    assert parse_bind("127.0.0.1:8099") == ("127.0.0.1", 8099)
    assert parse_bind("[::1]:8099") == ("::1", 8099)
    for bad in ("localhost", ":80", "127.0.0.1:http", "127.0.0.1:70000"):
        with pytest.raises(ConfigError, match=r"gateway\.http_bind"):
            parse_bind(bad)


def test_serve_runs_waitress_and_stops_on_sigterm(web_site: WebSite) -> None:
    port = free_port()
    code = (
        "import json, sys; from dockscan.config import parse_config;"
        " from gateway.web.server import serve;"
        f" serve(parse_config(json.loads(sys.argv[1])), '127.0.0.1:{port}')"
    )
    cfg_json = web_site.cfg.model_dump_json()
    proc = subprocess.Popen([sys.executable, "-c", code, cfg_json], stderr=subprocess.PIPE)
    try:
        wait_port(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.headers["Server"] == "dockscan"  # waitress, not the Flask dev server
            assert json.load(resp)["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()


def _read_event(resp: http.client.HTTPResponse, deadline: float) -> str:
    """Read SSE lines until an 'event:' line arrives; return its name."""
    while time.monotonic() < deadline:
        line = resp.fp.readline().decode()
        if line.startswith("event: "):
            return line[7:].strip()
    raise TimeoutError("no server-sent event")


def test_board_stream_notifies_on_parcel_and_state_change(
    live_server: LiveServer, web_site: WebSite
) -> None:
    conn = http.client.HTTPConnection(live_server.url.removeprefix("http://"), timeout=5)
    conn.request("GET", "/events/board")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    assert _read_event(resp, time.monotonic() + 5) == "board"  # initial state
    insert_parcel(web_site.conn, make_event("st-a1", 77, now_ms()))
    assert _read_event(resp, time.monotonic() + 5) == "board"
    set_state(web_site.conn, "st-a2", "offline")
    assert _read_event(resp, time.monotonic() + 5) == "board"
    assert Lease("gw-2").renew(web_site.conn)  # a new leader is shown on the board too
    assert _read_event(resp, time.monotonic() + 5) == "board"
    conn.close()


def test_open_streams_are_bounded(live_server: LiveServer) -> None:
    limit = live_server.app.config["SSE_MAX_STREAMS"]
    host = live_server.url.removeprefix("http://")
    conns = []
    for _ in range(limit):
        conn = http.client.HTTPConnection(host, timeout=5)
        conn.request("GET", "/events/board")
        assert conn.getresponse().status == 200
        conns.append(conn)
    extra = http.client.HTTPConnection(host, timeout=5)
    extra.request("GET", "/events/board")
    resp = extra.getresponse()
    assert resp.status == 503 and resp.headers["Retry-After"]
    resp.read()
    extra.request("GET", "/api/stations")  # pages keep threads of their own
    assert extra.getresponse().status == 200
    for conn in [*conns, extra]:
        conn.close()
