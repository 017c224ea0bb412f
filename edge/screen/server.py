"""The screen's HTTP server (stdlib): the page, its static files, /state and /events (SSE)."""

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

from dockscan.errors import ConfigError
from edge.screen.hub import ScreenHub, sse_json

logger = logging.getLogger(__name__)
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/screen.js": ("static/screen.js", "text/javascript; charset=utf-8"),
    "/static/screen.css": ("static/screen.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
KEEPALIVE_S = 15.0


def parse_bind(bind: str) -> tuple[str, int]:
    """Split host:port (port 0 picks a free one)."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError("", "screen_bind", f"must look like 127.0.0.1:8090, got {bind!r}")
    return host.strip("[]"), int(port)


class _Server(ThreadingHTTPServer):
    """A threading server that knows its hub and a stop flag."""

    daemon_threads = True
    hub: ScreenHub
    stopping: threading.Event


class _Handler(BaseHTTPRequestHandler):
    """Serves the page, the state and the live event stream."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Route access logs to debug logging."""
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        """Send a complete response with the security headers."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """Route GET requests."""
        path = self.path.split("?", 1)[0]
        if path in ASSETS:
            name, ctype = ASSETS[path]
            body = files("edge.screen").joinpath(name).read_bytes()
            self._send(200, body, ctype)
        elif path == "/state":
            _, state = self.server.hub.snapshot()
            self._send(200, sse_json(state).encode(), "application/json")
        elif path == "/events":
            self._stream()
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _stream(self) -> None:
        """Push the state now and on every change until the client leaves or we stop."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.close_connection = True
        hub, stopping = self.server.hub, self.server.stopping
        version, state = hub.snapshot()
        try:
            self.wfile.write(f"retry: 1000\ndata: {sse_json(state)}\n\n".encode())
            self.wfile.flush()
            quiet_since = time.monotonic()
            while not stopping.is_set():
                news = hub.wait(version, timeout=0.5)
                if news is not None:
                    version, state = news
                    self.wfile.write(f"data: {sse_json(state)}\n\n".encode())
                elif time.monotonic() - quiet_since >= KEEPALIVE_S:
                    self.wfile.write(b": keepalive\n\n")
                else:
                    continue
                self.wfile.flush()
                quiet_since = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):
            pass


class ScreenServer:
    """Runs the screen's HTTP server on its own named thread."""

    def __init__(self, hub: ScreenHub, bind: str) -> None:
        host, port = parse_bind(bind)
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise ConfigError("", "screen_bind", f"cannot listen on {bind}: {exc}") from None
        self._server.hub = hub
        self._server.stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="screen"
        )

    @property
    def url(self) -> str:
        """Return the page's URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> None:
        """Start serving."""
        self._thread.start()
        logger.info("station screen at %s", self.url)

    def stop(self) -> None:
        """Stop serving, end the event streams and join."""
        self._server.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
