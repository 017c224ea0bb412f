"""Ingest when PostgreSQL fails, and several gateways on one store: real processes throughout.

Mosquitto, `dockscan gateway run` and `dockscan edge run` (synthetic parcels, a durable outbox)
run as child processes; PostgreSQL is killed with SIGKILL, a gateway too. Every scenario ends
with each seq stored exactly once and the outboxes empty.
"""

import contextlib
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto, wait_for
from tests.support.chain import Chain, read_sql
from tests.support.postgres import PASSWORD, PASSWORD_ENV, Postgres
from tests.support.proxy import CuttableProxy

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
LEASE_SQL = "SELECT holder, since_ms, expires_ms FROM leases WHERE name = 'site-duties'"
RETRY_LINE = re.compile(r"WARNING .*retrying in ")


@pytest.fixture
def own_pg() -> Iterator[Postgres]:
    """A PostgreSQL of this test's own, to kill and restart (the session one stays up)."""
    server = Postgres().start()
    yield server
    try:
        server.destroy()
    except ProcessLookupError:  # killed and not restarted: its pid file is stale
        shutil.rmtree(server.root, ignore_errors=True)


class ClosingProxy(CuttableProxy):
    """A CuttableProxy that passes a closed connection on (shutdown, not just close).

    close() on a socket another thread is reading does not end the TCP connection, so a
    client waiting for an answer from a killed server would wait forever.
    """

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        """Copy src to dst while up; then shut both down so each side sees the end."""
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if self._up.is_set():
                    dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()


def pg_chain(work: Path, broker: Mosquitto, url: str, stations: int = 1, **kw: object) -> Chain:
    """Return a chain whose gateway stores in `url`, its password in $DOCKSCAN_TEST_PG_PASSWORD."""
    extra = f'database_password_env = "{PASSWORD_ENV}"\n' + str(kw.pop("gateway_extra", ""))
    return Chain(work, broker, stations, database=url, gateway_extra=extra, **kw)  # type: ignore[arg-type]


def outbox_head(chain: Chain, sid: str) -> tuple[int, int]:
    """Return (lowest seq, rows) of a station's outbox: the lowest seq moves only with acks."""
    rows = read_sql(chain.outbox(sid), "SELECT min(seq), count(*) FROM outbox")
    return (rows[0][0] or 0, rows[0][1]) if rows else (0, 0)


def assert_calm_log(log: str, max_retries: int) -> int:
    """Assert no traceback and at most `max_retries` retry lines; return the retry lines."""
    assert "Traceback" not in log, log[-4000:]
    retries = len(RETRY_LINE.findall(log))
    assert retries <= max_retries, log[-4000:]
    return retries


def test_postgres_sigkilled_mid_stream(
    tmp_path: Path, mosquitto: Mosquitto, own_pg: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, outage_s = 3000, 6.0
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    chain = pg_chain(tmp_path, mosquitto, own_pg.url(own_pg.create_database()))
    try:
        chain.start_gateway()
        chain.wait_gateway()
        chain.start_edge("st01", count=events, rate=250)
        wait_for(lambda: len(chain.stored("st01")) >= 400, 30, 0.1, "400 events stored")
        own_pg.kill()
        killed = time.monotonic()
        time.sleep(1.0)  # an ack already on its way when the server died may still land
        first = outbox_head(chain, "st01")
        time.sleep(outage_s)
        last = outbox_head(chain, "st01")
        assert chain.procs.children["gateway"].poll() is None, chain.procs.dump()
        assert first[1] > 0 and last[1] > first[1], (first, last)  # the outbox holds events
        assert last[0] == first[0], (first, last)  # and no ack arrived: nothing was deleted
        own_pg.restart()
        restarted = time.monotonic()
        acked = lambda: outbox_head(chain, "st01")[0] > last[0] or not chain.pending("st01")  # noqa: E731
        wait_for(acked, 30, 0.05, "the first ack after the restart")
        recovery_s = time.monotonic() - restarted
        chain.wait_delivered("st01", events)
        figures = chain.assert_exactly_once("st01", events)
        assert chain.procs.children["gateway"].poll() is None, "the gateway never exited"
        log = chain.procs.log("gateway")
        retries = assert_calm_log(log, max_retries=25)
        assert "disconnected from broker" not in log, "it kept its MQTT session"
        print(f"\nPostgreSQL down {restarted - killed:.1f} s: {retries} retry lines;"
              f" first ack {recovery_s:.2f} s after the restart; {figures}")  # fmt: skip
        times = {"outage_s": round(restarted - killed, 1), "recovery_s": round(recovery_s, 2)}
        chain.record("PostgreSQL SIGKILL and restart", figures, **times)
    finally:
        chain.close()


def test_gateway_started_while_postgres_is_down(
    tmp_path: Path, mosquitto: Mosquitto, own_pg: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    chain = pg_chain(tmp_path, mosquitto, own_pg.url(own_pg.create_database()))
    try:
        chain.start_edge("st01", count=500, rate=250)
        own_pg.stop()
        chain.start_gateway()
        failing = lambda: "opening the store failed" in chain.procs.log("gateway")  # noqa: E731
        wait_for(failing, 20, 0.1, "the first failed attempt")
        time.sleep(3.0)  # a few more attempts
        log = chain.procs.log("gateway")
        assert chain.procs.children["gateway"].poll() is None, log
        assert "connected to" not in log, log  # no MQTT before the store is open
        own_pg.restart()
        chain.wait_gateway()
        chain.wait_delivered("st01", 500)
        chain.assert_exactly_once("st01", 500)
        assert_calm_log(chain.procs.log("gateway"), max_retries=12)
        assert chain.procs.stop("gateway") == 0
    finally:
        chain.close()


def test_unreachable_postgres_does_not_stall_keepalive(
    tmp_path: Path, mosquitto: Mosquitto, own_pg: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reconnects hang (a blackholed link) for the 5 s connect timeout; keepalive is 2 s.

    The link is cut only once the gateway has seen its connection fail: a statement already
    sent into a blackhole waits for TCP to give up, which no probe can shorten.
    """
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    name = own_pg.create_database()
    proxy = ClosingProxy(own_pg.port).start()
    url = own_pg.url(name).replace(f":{own_pg.port}/", f":{proxy.port}/")
    chain = pg_chain(tmp_path, mosquitto, url, keepalive=2)
    try:
        chain.start_gateway()
        wait_for(lambda: read_sql(own_pg.url(name), "SELECT 1 FROM stations"), 20, 0.1, "up")
        chain.start_edge("st01", count=2000, rate=250)
        chain.wait_accepted("st01", 300)
        own_pg.kill()
        wait_for(lambda: RETRY_LINE.search(chain.procs.log("gateway")), 10, 0.05, "a failure")
        proxy.cut()  # every reconnect from now on hangs until its timeout
        own_pg.restart()
        time.sleep(12.0)  # two probes at least time out meanwhile
        log = chain.procs.log("gateway")
        assert "timeout expired" in log, log[-3000:]  # the probes did hang
        proxy.restore()
        chain.wait_delivered("st01", 2000)
        chain.assert_exactly_once("st01", 2000)
        log = chain.procs.log("gateway")
        assert_calm_log(log, max_retries=25)
        assert "disconnected from broker" not in log, log[-3000:]
    finally:
        chain.close()
        proxy.close()


def lease(chain: Chain) -> tuple[str, int, int] | None:
    """Return (holder, since_ms, expires_ms) of the site duty lease, or None."""
    rows = read_sql(chain.db, LEASE_SQL)
    return (rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else None


def test_two_gateways_one_lease_holder_killed(
    tmp_path: Path, mosquitto: Mosquitto, store_target: str
) -> None:
    """Two gateway processes share the parcels ($share) and one store; SIGKILL the holder."""
    stations, events = 3, 2500
    chain = Chain(tmp_path, mosquitto, stations, database=store_target,
                  gateway_extra='shared_group = "gws"\n')  # fmt: skip
    names = {"gw-1": "gateway", "gw-2": "gateway-2"}
    # Gateways in a shared group end their MQTT session with the connection (docs/scale-out.md):
    # with a lasting one, Mosquitto keeps routing the dead gateway's share into it.
    configs = {gid: chain.gateway_config(gid) for gid in names}
    for path in configs.values():
        path.write_text(path.read_text().replace("[broker]\n", "[broker]\nsession_expiry_s = 0\n"))
    try:
        for gid, name in names.items():
            chain.start_gateway(name=name, config=configs[gid])
        for gid in names:
            chain.wait_gateway(gateway=gid)
        wait_for(lambda: lease(chain), 10, 0.1, "a lease holder")
        for sid in chain.ids:
            chain.start_edge(sid, count=events, rate=250)
        chain.wait_accepted("st01", 600)
        first = lease(chain)
        assert first is not None
        holder, survivor = first[0], "gw-2" if first[0] == "gw-1" else "gw-1"
        took = [gid for gid, name in names.items() if "took the site-duties" in
                chain.procs.log(name)]  # fmt: skip
        assert took == [holder], took  # exactly one gateway ever ran the duties
        chain.procs.kill(names[holder])
        killed = time.monotonic()
        wait_for(lambda: (lease(chain) or ("",))[0] == survivor, 20, 0.05, "the takeover")
        takeover_s = time.monotonic() - killed
        for sid in chain.ids:
            chain.wait_delivered(sid, events)
        delivered_s = time.monotonic() - killed
        figures = [chain.assert_exactly_once(sid, events) for sid in chain.ids]
        assert chain.assert_one_verdict_each() == stations * events  # two reconcilers, one each
        log = chain.procs.log(names[survivor])
        assert f"took over the site duties from {holder}" in log, log[-3000:]
        assert "Traceback" not in log
        backend = "PostgreSQL" if "postgres" in store_target else "SQLite"
        print(f"\n{backend}: {survivor} took the site duties {takeover_s:.2f} s after"
              f" {holder} was SIGKILLed; every outbox empty after {delivered_s:.1f} s;"
              f" {figures}")  # fmt: skip
        assert takeover_s < 10
        chain.record(f"{backend}: lease holder SIGKILLed, takeover", figures[0],
                     takeover_s=round(takeover_s, 2), delivered_s=round(delivered_s, 1),
                     stations=stations)  # fmt: skip
        assert chain.procs.stop(names[survivor]) == 0
        last = lease(chain)
        assert last is not None and last[0] == survivor and last[2] == 0  # released at stop
    finally:
        chain.close()
