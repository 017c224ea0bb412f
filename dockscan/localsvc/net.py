"""Loopback ports: find a free one, wait for a listener, poll a condition."""

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

_issued: set[int] = set()  # ports this process handed out: none is handed out twice
_lock = threading.Lock()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now and not handed out before by this process.

    Free *now*: nothing holds it until the caller binds it, so two calls before either binds
    could get the same port from the kernel (seen: a NATS node given one port for its
    monitor and its routes). The set of issued ports rules that out within a process.
    """
    with _lock:
        for _ in range(1000):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _issued:
                _issued.add(port)
                return port
    raise OSError("no free TCP port on 127.0.0.1 that was not handed out already")


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Wait until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Poll `predicate` until it returns a truthy value; return it or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
