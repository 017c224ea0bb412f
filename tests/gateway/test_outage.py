"""The store outage guard: backoff steps, and probes that never block the caller."""

import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from gateway import outage
from gateway.outage import StoreGuard, connection_lost, transient
from tests.support.broker import free_port, wait_for


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a blackholed server)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_backoff_doubles_from_a_quarter_second_to_five() -> None:
    guard = StoreGuard("/tmp/unused.db", None)
    assert guard.ready() and not guard.down
    delays = []
    for _ in range(7):
        before = time.monotonic()
        guard.failed("commit", OSError("disk"))
        delays.append(round(guard.retry_at - before, 2))
        assert not guard.ready()  # not before the retry is due
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    guard.retry_at = 0.0
    assert guard.ready()  # SQLite: no probe, the retry itself is the attempt
    guard.succeeded()
    assert not guard.down and guard.wait_s() == float("inf")


def test_lost_postgres_is_probed_off_the_calling_thread(silent_port: int) -> None:
    url = f"postgresql://nobody@127.0.0.1:{silent_port}/db"
    guard = StoreGuard(url, "pw")
    guard.failed("commit", psycopg.OperationalError("server closed the connection"))
    assert guard.lost
    guard.retry_at = 0.0
    started = time.monotonic()
    assert not guard.ready()  # starts the probe, which hangs until its connect timeout
    assert guard.probe is not None and guard.probe.is_alive()
    assert not guard.ready() and guard.wait_s() == outage.PROBE_POLL_S
    assert time.monotonic() - started < 0.5, "the caller never waits for the probe"
    wait_for(lambda: not guard.probe.is_alive(), 10, 0.1, "the probe to time out")  # type: ignore[union-attr]
    assert not guard.ready()  # the failed probe counts as an attempt and backs off
    assert guard.failures == 2 and guard.probe is None and guard.lost


def test_a_probe_that_connects_lets_the_store_be_used(pg_server: object) -> None:
    url = pg_server.url(password=True)  # type: ignore[attr-defined]
    guard = StoreGuard(url, None)
    guard.failed("commit", psycopg.OperationalError("terminating connection"))
    guard.retry_at = 0.0
    assert not guard.ready()
    wait_for(lambda: not guard.probe.is_alive(), 10, 0.05, "the probe")  # type: ignore[union-attr]
    assert guard.ready() and not guard.lost


def test_refused_probe_is_quick() -> None:
    guard = StoreGuard(f"postgresql://nobody@127.0.0.1:{free_port()}/db", None)
    guard.failed("commit", psycopg.OperationalError("gone"))
    guard.retry_at = 0.0
    guard.ready()
    wait_for(lambda: not guard.probe.is_alive(), 3, 0.02, "a refused probe")  # type: ignore[union-attr]
    assert not guard.ready() and guard.failures == 2


def test_which_errors_count_as_transient_or_lost() -> None:
    refused = psycopg.OperationalError("connection refused")
    wrapped = RuntimeError("cannot connect")
    wrapped.__cause__ = refused
    assert transient(refused) and transient(wrapped)
    assert not transient(RuntimeError("schema is newer than this gateway"))
    assert connection_lost(None, refused)
    assert not connection_lost(None, psycopg.errors.UniqueViolation("dup"))
