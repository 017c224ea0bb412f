"""The real delivery chain for fault tests: Mosquitto, gateway and edge agents as processes."""

import json
import sqlite3
from pathlib import Path

import psycopg

from gateway.db import is_postgres
from gateway.db.postgres import translate
from tests.support.broker import Mosquitto, free_port, wait_for, wait_port
from tests.support.postgres import PASSWORD
from tests.support.procs import Procs


def pg_rows(url: str, sql: str, args: tuple = ()) -> list[tuple]:
    """Run one query (`?` placeholders) on a test PostgreSQL database; raises psycopg errors."""
    with psycopg.connect(url, password=PASSWORD, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(translate(sql, bool(args)), args or None).fetchall()


def read_sql(db: Path | str, sql: str, args: tuple = ()) -> list[tuple]:
    """Run one read query on a SQLite file or a PostgreSQL URL (empty list while it is missing).

    Missing means: no file, no table yet, or (PostgreSQL) the server is down.
    """
    if isinstance(db, str) and is_postgres(db):
        try:
            return pg_rows(db, sql, args)
        except psycopg.Error:
            return []
    db = Path(db)
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


class Chain:
    """A site of synthetic stations (no devices) wired through real processes."""

    def __init__(
        self,
        work: Path,
        broker: Mosquitto,
        stations: int = 1,
        protocol: str = "5",
        keepalive: int = 5,
        ack_timeout: float = 3.0,
        extra_station: str = "",
        edge_broker_port: int | None = None,
        telemetry_s: float = 1.0,
        database: str | None = None,
        gateway_extra: str = "",
    ) -> None:
        self.work, self.broker, self.procs = work, broker, Procs(work / "logs")
        self.http = free_port()
        self.ids = [f"st{i:02d}" for i in range(1, stations + 1)]
        self.database = database or str(work / "gateway.db")
        text = (
            f'[site]\nid = "LGG"\n[broker]\nurl = "{broker.url}"\nprotocol = "{protocol}"\n'
            f"keepalive_s = {keepalive}\n"
            f'[gateway]\ndatabase = "{self.database}"\nhttp_bind = "127.0.0.1:{self.http}"\n'
            f"batch_ms = 20\n{gateway_extra}"
        )
        for sid in self.ids:
            text += (
                f'[[stations]]\nid = "{sid}"\ndock = "01"\noutbox = "{self.outbox(sid)}"\n'
                f"telemetry_interval_s = {telemetry_s}\nack_timeout_s = {ack_timeout}\n"
                f"{extra_station}"
            )
        self.config = work / "site.toml"
        self.config.write_text(text)
        self.edge_config = self.config
        if edge_broker_port:  # edges reach the broker another way (e.g. through a proxy)
            self.edge_config = work / "site-edge.toml"
            self.edge_config.write_text(
                text.replace(broker.url, f"mqtt://127.0.0.1:{edge_broker_port}")
            )

    @property
    def db(self) -> Path | str:
        """Return the gateway store: a SQLite path, or the PostgreSQL URL (read_sql takes both)."""
        return self.database if is_postgres(self.database) else Path(self.database)

    def gateway_config(self, gateway_id: str) -> Path:
        """Write (once) and return a copy of the site config for another gateway id."""
        path = self.work / f"site-{gateway_id}.toml"
        text = self.config.read_text().replace("[gateway]\n", f'[gateway]\nid = "{gateway_id}"\n')
        path.write_text(text.replace(f":{self.http}", f":{free_port()}"))
        return path

    def outbox(self, sid: str) -> Path:
        """Return a station's outbox path."""
        return self.work / f"{sid}-outbox.db"

    def start_gateway(self, *extra: str, name: str = "gateway", config: Path | None = None) -> None:
        """Start (or restart) a gateway process (the site's own, or one with `config`)."""
        self.procs.start(name, "gateway", "run", "-c", str(config or self.config), *extra)

    def wait_gateway(self, timeout: float = 30, gateway: str = "gw-1") -> None:
        """Wait until a gateway reports itself connected to the broker (and so subscribed)."""
        sql = "SELECT value FROM counters WHERE name='broker_connected' AND gateway=?"
        wait_for(lambda: read_sql(self.db, sql, (gateway,)) == [(1.0,)], timeout, 0.1,
                 f"{gateway} connected")  # fmt: skip

    def wait_ui(self, timeout: float = 60) -> None:
        """Wait until the gateway's web UI answers on its port; fail with every log's tail."""
        try:
            wait_port(self.http, timeout)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.procs.dump()}") from exc

    def start_edge(self, sid: str, count: int = 0, rate: float = 500.0) -> None:
        """Start (or restart) a station's agent, optionally feeding `count` synthetic parcels."""
        args = ["edge", "run", "-c", str(self.edge_config), "--station", sid]
        if count:
            args += ["--synthetic-count", str(count), "--synthetic-rate", str(rate)]
        self.procs.start(f"edge-{sid}", *args)

    def accepted(self, sid: str) -> int:
        """Return how many events the station's outbox ever accepted (the last seq assigned)."""
        rows = read_sql(self.outbox(sid), "SELECT value FROM outbox_meta WHERE key='next_seq'")
        return rows[0][0] - 1 if rows else 0

    def pending(self, sid: str) -> int:
        """Return how many events wait in the station's outbox."""
        rows = read_sql(self.outbox(sid), "SELECT count(*) FROM outbox")
        return rows[0][0] if rows else 0

    def stored(self, sid: str) -> list[int]:
        """Return the seqs of a station's parcels in the gateway store, sorted."""
        return [r[0] for r in read_sql(self.db, "SELECT seq FROM parcels WHERE station=? "
                                       "ORDER BY seq", (sid,))]  # fmt: skip

    def wait_accepted(self, sid: str, n: int, timeout: float = 60) -> None:
        """Wait until the station has accepted at least n events."""
        wait_for(lambda: self.accepted(sid) >= n, timeout, 0.1, f"{sid} to accept {n} events")

    def wait_delivered(self, sid: str, n: int, timeout: float = 120) -> None:
        """Wait until n events are stored and the outbox is empty."""
        try:
            wait_for(lambda: len(self.stored(sid)) >= n and self.pending(sid) == 0,
                     timeout, 0.25, f"{sid}: {n} stored and an empty outbox")  # fmt: skip
        except TimeoutError as exc:
            raise AssertionError(
                f"{exc}; stored {len(self.stored(sid))}, pending {self.pending(sid)}\n"
                + self.procs.dump()
            ) from None

    def assert_exactly_once(self, sid: str, produced: int) -> dict[str, int]:
        """Assert the store holds seqs 1..produced once each; return the scenario's figures."""
        seqs = self.stored(sid)
        dupes = len(seqs) - len(set(seqs))
        lost = sorted(set(range(1, produced + 1)) - set(seqs))
        figures = {"produced": produced, "stored": len(set(seqs)), "duplicates": dupes,
                   "lost": len(lost)}  # fmt: skip
        assert dupes == 0 and not lost and len(seqs) == produced, (figures, lost[:20])
        return figures

    def assert_one_verdict_each(self, timeout: float = 30) -> int:
        """Wait for the verdict queue to empty; assert each parcel has one verdict; count them.

        Every parcel of the chain's stations carries a valid S10 id (synthetic or simulated).
        """
        queued = "SELECT count(*) FROM verdict_queue"
        wait_for(lambda: read_sql(self.db, queued) == [(0,)], timeout, 0.25, "an empty queue")
        rows = read_sql(self.db, "SELECT count(*), count(v.event_id) FROM parcels p LEFT JOIN"
                        " verdicts v ON v.event_id = p.event_id")  # fmt: skip
        orphans = read_sql(self.db, "SELECT count(*) FROM verdicts v WHERE NOT EXISTS"
                           " (SELECT 1 FROM parcels p WHERE p.event_id = v.event_id)")  # fmt: skip
        assert rows[0][0] == rows[0][1] and orphans == [(0,)], (rows, orphans)
        return int(rows[0][1])

    def record(self, scenario: str, figures: dict[str, int], **extra: object) -> None:
        """Append a scenario's figures to tests/artifacts/reliability.jsonl."""
        out = Path(__file__).resolve().parents[1] / "artifacts" / "reliability.jsonl"
        out.parent.mkdir(exist_ok=True)
        with out.open("a") as fh:
            fh.write(json.dumps({"scenario": scenario, **figures, **extra}) + "\n")

    def close(self) -> None:
        """Stop every process of the chain."""
        self.procs.stop_all()
