"""Run the web UI under waitress; refuse non-loopback addresses without an access token."""

import contextlib
import ipaddress
import logging
import signal
import threading
from typing import Any

from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from dockscan.config import SiteConfig
from dockscan.errors import ConfigError
from gateway.web import create_app

logger = logging.getLogger(__name__)


def parse_bind(bind: str) -> tuple[str, int]:
    """Split 'host:port' or '[v6]:port' into host and port, or raise ConfigError."""
    host, sep, port = bind.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError("site config", "gateway.http_bind", f"{bind!r} is not host:port")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Return whether a bind host only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build(cfg: SiteConfig, bind: str | None = None, test_config: dict | None = None) -> tuple:
    """Create the app and a waitress server for it (not yet serving); return (app, server).

    Live board streams each hold a worker thread, so the server gets PAGE_THREADS more threads
    than SSE_MAX_STREAMS: pages, API and metrics always have threads of their own.
    """
    host, port = parse_bind(bind or cfg.gateway.http_bind)
    app = create_app(cfg, test_config)
    threads = app.config["SSE_MAX_STREAMS"] + app.config["PAGE_THREADS"]
    if not is_loopback(host) and not app.config["ACCESS_TOKEN"]:
        raise ConfigError(
            "site config",
            "gateway.access_token_env",
            f"refusing to serve on {host}, which is not a loopback address, without an access"
            " token: name an environment variable holding one in gateway.access_token_env",
        )
    # Waitress spools a body past 512 kB to a temporary file; a manifest may be up to max_file_mb.
    body_max = max(1 << 30, int(cfg.manifests.max_file_mb * 1_000_000) + (1 << 20))
    server = create_server(app, host=host, port=port, threads=threads, ident="dockscan",
                           max_request_body_size=body_max)  # fmt: skip
    return app, server


def serve(cfg: SiteConfig, bind: str | None = None) -> None:
    """Serve the UI until interrupted (the `dockscan gateway ui` command)."""
    app, server = build(cfg, bind)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    logger.info("web UI on http://%s:%s/ (store %s)", server.effective_host, server.effective_port,
                app.config["DATABASE"])  # fmt: skip
    try:
        server.run()  # returns after SIGINT/SIGTERM
    finally:
        logger.info("web UI stopping")
        stop_server(server)
        shutdown(app)


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into the KeyboardInterrupt waitress stops on."""
    raise KeyboardInterrupt


def stop_server(server: Any, loop_thread: threading.Thread | None = None) -> None:
    """Close a waitress server's sockets and join its workers.

    Pass loop_thread when run() is still going in another thread: the sockets are then closed
    from inside the loop (closing them under a running select() fails with EBADF).
    """
    if loop_thread is not None and loop_thread.is_alive():
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError as exc:
            _stop_without_trigger(server, loop_thread, exc)
        loop_thread.join(5)
    else:
        wasyncore.close_all(server._map)
    server.task_dispatcher.shutdown(timeout=5)


def _stop_without_trigger(server: Any, loop_thread: threading.Thread, exc: OSError) -> None:
    """Stop a loop whose wake-up pipe is gone: empty its map, let it end, then close sockets."""
    logger.warning("web server wake-up pipe unusable (%s); stopping its loop by its map", exc)
    channels = list(server._map.values())
    server._map.clear()  # the loop ends after its current select (at most its timeout)
    loop_thread.join(5)
    trigger = server.trigger
    for channel in channels:  # not the server's own close(): it closes the trigger first
        if channel is not trigger:
            with contextlib.suppress(OSError):
                wasyncore.dispatcher.close(channel)
    # The pipe's read end is closed once, here, unless the loop already saw the write end go
    # (end of file) and closed it in trigger.close(), which then stopped at the dead write end.
    # Either way its wrapper forgets the number: by now it may be someone else's descriptor,
    # which the wrapper would otherwise close again when garbage-collected.
    wrapper = trigger.socket  # None once the dispatcher closed it properly
    if not trigger._closed:
        trigger._closed = True
        if wrapper is not None:
            with contextlib.suppress(OSError):
                wrapper.close()
    if wrapper is not None:
        wrapper.fd = -1
    trigger._fds = []


def shutdown(app: Flask) -> None:
    """Close the app's database connections and its MQTT client."""
    state = app.extensions["dockscan"]
    state.publisher.close()
    state.db.close_all()
