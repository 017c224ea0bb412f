"""Gateway ingest benchmark against the raw paho ceiling measured in the same run.

Each case gets its own mosquitto (bench config: no persistence, unlimited queues) and a fresh
store, and runs `dockscan gateway run` as a real process. The generator is `mosquitto_pub -l`
per simulated station (see loadgen.py). Figures: committed events/s, arrival→commit p50/p99,
gateway CPU per event and peak RSS; the raw ceiling is a paho subscriber that only counts
QoS 1 messages from the same generator; then publish→commit latency at a paced rate, a long
run's memory profile, and two workers on a $share subscription.

`--store sqlite,postgres` runs every gateway case on both stores in the same run: PostgreSQL is
a private server the bench starts (fsync, synchronous_commit and full-page writes on, as
durable as SQLite's synchronous=FULL), a fresh database per case.

Example: .venv/bin/python bench/ingest_bench.py --events 60000 --runs 3 --long 1000000
         .venv/bin/python bench/ingest_bench.py --cases raw,gw1 --store sqlite,postgres --long 0
"""

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import loadgen  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import psycopg  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402

from tests.support.broker import Mosquitto, wait_for  # noqa: E402
from tests.support.nats import NatsCluster  # noqa: E402
from tests.support.postgres import PASSWORD, Postgres  # noqa: E402

SITE = "BENCH"
NOTES = "\n## Notes"  # hand-written text after this heading survives a rerun
BROKER_CONF = """allow_anonymous true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 1000
set_tcp_nodelay true
log_type error
log_type warning
"""


# name: (label, gateway workers (0 = raw counter), MQTT protocol, the raw case it is compared to)
CASES = {
    "raw": ("raw paho subscriber (counts only), MQTT 5", 0, "5", "raw"),
    "gw1": ("gateway, 1 process, MQTT 5", 1, "5", "raw"),
    "gw2": ("gateway, 2 workers on $share, MQTT 5", 2, "5", "raw"),
    "raw-311": ("raw paho subscriber (counts only), MQTT 3.1.1", 0, "3.1.1", "raw-311"),
    "gw1-311": ("gateway, 1 process, MQTT 3.1.1", 1, "3.1.1", "raw-311"),
}
STORES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
PASSWORD_ENV = "DOCKSCAN_BENCH_PG_PASSWORD"  # gateway.database_password_env of the bench


def proc_tree(pid: int) -> list[int]:
    """Return pid and all its descendants (children started by any of its threads)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def proc_status(pid: int, key: str) -> int:
    """Return a kB field (VmRSS, VmHWM) of /proc/PID/status, 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds of a process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100 * len(values)))] if values else float("nan")


class DurablePostgres(Postgres):
    """The test PostgreSQL with full_page_writes back on: the honest durable setting.

    The fixture runs fsync=on (asked for here) and synchronous_commit=on but turns full-page
    writes off; a benchmark of a store that claims to survive a power cut turns them back on.
    """

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        args = tuple(a.replace("full_page_writes=off", "full_page_writes=on") for a in args)
        return super()._run(tool, *args)


def start_postgres() -> Postgres:
    """Start the bench's private PostgreSQL (fsync, synchronous_commit, full-page writes on)."""
    return DurablePostgres(fsync=True).start()


def postgres_facts(pg: Postgres) -> str:
    """Return the server version and the durability settings, for the report."""
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes",
             "wal_sync_method", "shared_buffers")  # fmt: skip
    with psycopg.connect(pg.url(password=True)) as conn:
        got = [f"{n}={conn.execute(f'SHOW {n}').fetchone()[0]}" for n in names]
    return "PostgreSQL " + ", ".join(got)


class BenchStore:
    """A case's store: a fresh SQLite file, or a fresh database on the bench's PostgreSQL."""

    def __init__(self, workdir: Path, pg: Postgres | None = None) -> None:
        self.pg = pg
        self.settings: dict[str, str] = {}  # the [gateway] lines naming this store
        if pg is not None:
            name = pg.create_database()
            self.database = pg.url(name, password=True)  # the bench's own reads
            self.settings = {"database": pg.url(name), "database_password_env": PASSWORD_ENV}
            os.environ[PASSWORD_ENV] = PASSWORD  # the gateways inherit it
        else:
            self.database = str(workdir / "gw.db")
            self.settings = {"database": self.database}
        self._conn: psycopg.Connection | None = None

    def rows(self, sql: str) -> list[tuple]:
        """Run one read statement and return its rows (a new SQLite connection each time)."""
        if self.pg is None:
            with contextlib.closing(sqlite3.connect(self.database, timeout=5)) as conn:
                return conn.execute(sql).fetchall()
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database, autocommit=True, connect_timeout=5)
        try:
            return self._conn.execute(sql).fetchall()
        except psycopg.OperationalError:
            self._conn.close()
            raise

    def counter(self, name: str) -> float:
        """Return a counter summed over the gateways (0 if absent or not readable yet)."""
        try:
            rows = self.rows(f"SELECT sum(value) FROM counters WHERE name = '{name}'")
        except (sqlite3.Error, psycopg.Error):
            return 0.0
        return float(rows[0][0] or 0) if rows else 0.0

    def close(self) -> None:
        """Close the polling connection."""
        if self._conn is not None:
            self._conn.close()


class StatusWatch:
    """Follows the gateways' retained status topics: who is online, and in which session."""

    def __init__(self, port: int, protocol: str) -> None:
        self.states: dict[str, tuple[str, int]] = {}
        proto = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-watch", protocol=proto
        )
        self.client.on_message = self._on_message
        topic = f"{loadgen.PREFIX}/{SITE}/gateway/+/status"
        self.client.on_connect = lambda c, *_: c.subscribe(topic, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(ValueError, KeyError):
            doc = json.loads(msg.payload)
            self.states[doc["gateway"]] = (doc["state"], int(doc["session"]))

    def wait_online(self, gateway: str, after_session: int = 0, timeout: float = 30) -> int:
        """Wait until `gateway` says online in a session above `after_session`; return it."""

        def online() -> int:
            state, session = self.states.get(gateway, ("", 0))
            return session if state == "online" and session > after_session else 0

        return wait_for(online, timeout, 0.02, f"{gateway} online")

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


class GatewayRun:
    """A broker plus `gateways` x `dockscan gateway run` on a fresh store, for one measured case.

    The broker is a bench mosquitto, or with `nats` a 3-node NATS cluster (the gateways pull
    parcels from JetStream; the generator publishes MQTT 3.1.1 to node 1). Gateway i is
    `gw-i`; with `liveness="first"` the others run `--no-liveness`. Keyword arguments are
    `[gateway]` settings; `broker_settings` go into `[broker]`; `extra_toml` is appended (other
    sections, e.g. `[reconcile]`). `launcher` is the command
    that stands for `python -m dockscan` (bench/gateway_variant.py runs another write path).
    """

    def __init__(
        self,
        workdir: Path,
        workers: int = 1,
        *,
        pg: Postgres | None = None,
        gateways: int = 1,
        nats: bool = False,
        liveness: str = "first",
        broker_settings: dict[str, object] | None = None,
        launcher: list[str] | None = None,
        extra_toml: str = "",
        **gateway: object,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        protocol = "3.1.1" if nats else str(gateway.pop("protocol", "5"))
        self.cluster: NatsCluster | None = None
        self.broker: Mosquitto | None = None
        if nats:
            self.cluster = NatsCluster(workdir / "nats").start()
            self.port = self.cluster.nodes[0].mqtt_port
            urls = ", ".join(json.dumps(u) for u in self.cluster.mqtt_urls)
            nats_urls = ", ".join(json.dumps(u) for u in self.cluster.urls)
            broker = [f"urls = [{urls}]", 'transport = "nats"', f"nats_urls = [{nats_urls}]"]
        else:
            conf = workdir / "broker.conf.in"
            conf.write_text(BROKER_CONF)
            self.broker = Mosquitto(workdir / "broker", conf=conf).start()
            self.port = self.broker.port
            broker = [f'url = "{self.broker.url}"']
        broker += [f"{k} = {json.dumps(v)}" for k, v in (broker_settings or {}).items()]
        self.store = BenchStore(workdir, pg)
        self.pg = pg
        self.logs: list[Path] = []
        self.argvs: list[list[str]] = []
        self.ids = [f"gw-{i}" for i in range(1, gateways + 1)]
        for i, gid in enumerate(self.ids):
            settings = {"id": gid, **self.store.settings, **gateway}
            lines = ["[site]", f'id = "{SITE}"', "[broker]", *broker, f'protocol = "{protocol}"']
            lines += ["[gateway]", *(f"{k} = {json.dumps(v)}" for k, v in settings.items())]
            config = workdir / f"site-{gid}.toml"
            config.write_text("\n".join(lines) + "\n" + extra_toml)
            argv = [*(launcher or [sys.executable, "-m", "dockscan"]), "-q", "gateway", "run"]
            argv += ["-c", str(config)]
            argv.append(f"--workers={workers}")
            if i and liveness == "first":
                argv.append("--no-liveness")
            self.argvs.append(argv)
            self.logs.append(workdir / f"{gid}.log")
        self.procs: list[subprocess.Popen] = [self.launch(i) for i in range(gateways)]
        self.watch = StatusWatch(self.port, protocol)
        try:
            self._wait_ready(workers, nats)
        except BaseException:
            self.stop()
            raise
        self.server_cpu_before = self._server_cpu()
        self.peak_kb: dict[int, int] = {}
        self.rss_samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _wait_ready(self, workers: int, nats: bool) -> None:
        """Wait until every gateway (every worker) is online and subscribed."""
        for gid in self.ids:
            names = [gid] if workers == 1 else [f"{gid}-w{j}" for j in range(1, workers + 1)]
            for name in names:
                self.watch.wait_online(name)
        wait_for(lambda: self.store.counter("broker_connected") >= 1, 30, what="gateway ready")
        if workers > 1 or len(self.ids) > 1 or nats:
            time.sleep(1.0)  # let every worker subscribe (bind the consumer) too

    @property
    def proc(self) -> subprocess.Popen:
        """The first gateway process."""
        return self.procs[0]

    def launch(self, i: int) -> subprocess.Popen:
        """Start gateway i (again), appending to its log."""
        with open(self.logs[i], "ab") as log:
            return subprocess.Popen(self.argvs[i], stdout=log, stderr=subprocess.STDOUT)

    def kill(self, i: int) -> None:
        """SIGKILL gateway i and its children (no commit, no goodbye)."""
        for pid in proc_tree(self.procs[i].pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.procs[i].wait(10)

    def restart(self, i: int) -> int:
        """Start gateway i again and wait until it is online in a new session; return it."""
        before = self.watch.states.get(self.ids[i], ("", 0))[1]
        self.procs[i] = self.launch(i)
        return self.watch.wait_online(self.ids[i], before)

    def counter(self, name: str) -> float:
        """Return a counter from the store (0 if absent)."""
        return self.store.counter(name)

    def _server_cpu(self) -> dict[int, float]:
        """Return the CPU seconds of every PostgreSQL process (empty with SQLite)."""
        pid = self.pg.postmaster_pid() if self.pg else None
        return {p: cpu_seconds(p) for p in proc_tree(pid)} if pid else {}

    def _gateway_pids(self) -> list[int]:
        """Return every live gateway process and its children."""
        return [p for proc in self.procs for p in proc_tree(proc.pid)]

    def _sample(self) -> None:
        """Record the ingest processes' RSS once a second, and their peaks."""
        start = time.monotonic()
        while not self._stop.wait(1.0):
            total = 0
            for pid in self._gateway_pids():
                self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), proc_status(pid, "VmHWM"))
                total += proc_status(pid, "VmRSS")
            self.rss_samples.append((time.monotonic() - start, total))

    def wait_committed(self, n: int, timeout: float) -> None:
        """Wait until n events are committed."""
        wait_for(lambda: self.counter("events_ingested_total") >= n, timeout, 0.25, "commits")

    def finish(self) -> dict:
        """Collect CPU and RSS, stop everything, and return the store's timing figures."""
        pids = self._gateway_pids()
        cpu = sum(cpu_seconds(p) for p in pids)
        server = self._server_cpu()
        server_cpu = sum(t - self.server_cpu_before.get(p, 0.0) for p, t in server.items())
        for pid in pids:
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), proc_status(pid, "VmHWM"))
        self._stop.set()
        self._sampler.join()
        self.stop()
        first, last, n = self.store.rows(
            "SELECT min(received_ms), max(committed_ms), count(*) FROM parcels"
        )[0]
        waits = [r[0] for r in self.store.rows("SELECT committed_ms - received_ms FROM parcels")]
        e2e = [r[0] for r in self.store.rows("SELECT committed_ms - ts_ms FROM parcels")]
        batches = self.store.counter("batches_total")
        self.store.close()
        peaks = sorted(self.peak_kb.values(), reverse=True)
        secs = max(1e-3, (last - first) / 1000)
        return {
            "rows": n,
            "seconds": secs,
            "per_s": n / secs,
            "wait_p50": pct(waits, 50),
            "wait_p99": pct(waits, 99),
            "e2e_p50": pct(e2e, 50),
            "e2e_p99": pct(e2e, 99),
            "batches": batches,
            "cpu_us": cpu / max(1, n) * 1e6,
            "db_cpu_us": server_cpu / max(1, n) * 1e6,
            "peak_mb": peaks[0] / 1024 if peaks else 0,
            "peak_mb_all": sum(peaks) / 1024,
        }

    def stop(self) -> None:
        """SIGTERM the gateways (they commit what is open), then stop the broker."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill(self.procs.index(proc))
        self.watch.close()
        if self.broker is not None:
            self.broker.stop()
        if self.cluster is not None:
            self.cluster.stop()


def raw_ceiling(
    workdir: Path, events: int, stations: int, protocol: str, paced_rate: float = 0
) -> dict:
    """Count QoS 1 messages with a bare paho subscriber fed by the same generator.

    With `paced_rate`, the paced paho publisher feeds it instead and publish→arrival
    latency is measured (the transport's share of the gateway's publish→commit latency).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "broker.conf.in"
    conf.write_text(BROKER_CONF)
    broker = Mosquitto(workdir / "broker", conf=conf).start()
    try:
        sub = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "bench" / "loadgen.py"),
                "count",
                str(broker.port),
                str(events),
                SITE,
                protocol,
                *(["latency"] if paced_rate else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sub.stdout and sub.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        if paced_rate:
            loadgen.paced(broker.port, SITE, stations, paced_rate, events / paced_rate)
        else:
            loadgen.blast(broker.port, SITE, stations, events)
        out = json.loads(sub.stdout.readline())
        sub.wait(30)
        sub.stdout.close()
    finally:
        broker.stop()
    secs = out["last"] - out["first"]
    lat = out["latency_ms"]
    return {
        "e2e_p50": pct(lat, 50),
        "e2e_p99": pct(lat, 99),
        "rows": out["count"],
        "seconds": secs,
        "per_s": out["count"] / secs,
        "cpu_us": out["cpu_s"] / out["count"] * 1e6,
    }


def blast_case(
    workdir: Path, events: int, stations: int, workers: int, v311: bool, pg: Postgres | None
) -> dict:
    """Blast events at a gateway with `workers` processes and measure it."""
    run = GatewayRun(workdir, workers=workers, pg=pg, protocol="3.1.1" if v311 else "5")
    loadgen.blast(run.port, SITE, stations, events)
    run.wait_committed(events, 300)
    return run.finish()


def paced_case(
    workdir: Path, rate: float, secs: float, stations: int, idle: bool, pg: Postgres | None
) -> dict:
    """Publish at a fixed rate from paho and measure publish→commit latency."""
    run = GatewayRun(workdir, pg=pg, flush_when_idle=idle)
    n = loadgen.paced(run.port, SITE, stations, rate, secs)
    run.wait_committed(n, 60)
    return run.finish()


def long_case(workdir: Path, events: int, stations: int, chunk: int, pg: Postgres | None) -> dict:
    """Ingest many events in chunks and keep the RSS profile."""
    run = GatewayRun(workdir, pg=pg)
    sent = 0
    while sent < events:
        n = min(chunk, events - sent)
        loadgen.blast(run.port, SITE, stations, n, first_seq=sent // stations)
        sent += n
        run.wait_committed(sent, 600)
    samples = list(run.rss_samples)
    out = run.finish()
    out["rss"] = samples
    return out


def median_of(runs: list[dict], key: str) -> tuple[float, float, float]:
    """Return median, min and max of one figure over runs."""
    vals = [r[key] for r in runs]
    return statistics.median(vals), min(vals), max(vals)


def case_key(case: str, store: str) -> str:
    """Name a blast case on a store (the SQLite one keeps the bare case name)."""
    return case if store == "sqlite" or not CASES[case][1] else f"{case}@{store}"


def main() -> None:
    """Run every case on every store and write the report (bench/results/gateway.md)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--paced-secs", type=float, default=20)
    ap.add_argument("--long", type=int, default=200_000, help="events in the memory run (0: skip)")
    ap.add_argument("--cases", default=",".join(CASES), help="blast cases to run, comma-separated")
    ap.add_argument(
        "--store", default="sqlite", help="stores, comma-separated: sqlite, postgres (a private"
        " server with fsync, synchronous_commit and full-page writes on)",
    )  # fmt: skip
    ap.add_argument("--out", default="", help="report (default bench/results/gateway.md, or"
                    " gateway-postgres.md when --store names postgres)")  # fmt: skip
    args = ap.parse_args()
    stores = args.store.split(",")
    if set(stores) - set(STORES):
        ap.error(f"--store takes {', '.join(STORES)}")
    args.out = args.out or str(
        REPO
        / "bench"
        / "results"
        / ("gateway.md" if stores == ["sqlite"] else "gateway-postgres.md")
    )
    pg = start_postgres() if "postgres" in stores else None
    try:
        args.pg_facts = postgres_facts(pg) if pg else ""
        run_all(args, stores, pg)
    finally:
        if pg is not None:
            pg.destroy()


def run_all(args: argparse.Namespace, stores: list[str], pg: Postgres | None) -> None:
    """Run the blast, paced and long cases and write the report."""
    results: dict[str, list[dict]] = {}
    for case in args.cases.split(","):
        for store in stores:
            results.setdefault(case_key(case, store), [])
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        for r in range(args.runs):
            for key in results:
                case, _, store = key.partition("@")
                work = Path(tmp) / f"{case}-{store or 'sqlite'}-{r}"
                _, workers, protocol, _ = CASES[case]
                db = pg if store == "postgres" else None
                if not workers:
                    res = raw_ceiling(work, args.events, args.stations, protocol)
                else:
                    v311 = protocol == "3.1.1"
                    res = blast_case(work, args.events, args.stations, workers, v311, db)
                results[key].append(res)
                print(key, r, {k: round(v, 2) for k, v in res.items()}, flush=True)
        n_paced = int(args.rate * args.paced_secs)
        paced_raw = raw_ceiling(Path(tmp) / "paced-raw", n_paced, args.stations, "5", args.rate)
        print("paced raw", paced_raw, flush=True)
        paced = {}
        for store in stores:
            db = pg if store == "postgres" else None
            for idle in (True, False):
                work = Path(tmp) / f"paced-{store}-{idle}"
                res = paced_case(work, args.rate, args.paced_secs, args.stations, idle, db)
                paced[store, idle] = res
                print("paced", store, "idle" if idle else "size/time", res, flush=True)
        long = None
        if args.long:
            db = pg if stores[0] == "postgres" else None
            long = long_case(Path(tmp) / "long", args.long, args.stations, 50_000, db)
            print("long", {k: v for k, v in long.items() if k != "rss"}, flush=True)
    load = (load_before, os.getloadavg())
    out = Path(args.out)
    notes = out.read_text().partition(NOTES)[2] if out.exists() else ""
    out.write_text(
        report(args, results, paced_raw, paced, long, load) + (NOTES + notes if notes else "")
    )
    print(f"wrote {args.out}")


def report(
    args: argparse.Namespace,
    results: dict,
    paced_raw: dict,
    paced: dict,
    long: dict | None,
    load: tuple,
) -> str:
    """Render the results as Markdown."""
    stores = args.store.split(",")
    pg_line = (
        [f"Store on PostgreSQL: a private server started by the bench, {args.pg_facts}; "
         "the SQLite store commits with synchronous=FULL, so both fsync every commit. "
         "PostgreSQL CPU is every server process's CPU during the case, per event.", ""]
        if args.pg_facts else []
    )  # fmt: skip
    lines = [
        "# Gateway ingest benchmark",
        "",
        f"Command: `.venv/bin/python bench/ingest_bench.py --events {args.events} --stations "
        f"{args.stations} --runs {args.runs} --rate {args.rate:g} --paced-secs "
        f"{args.paced_secs:g} --long {args.long} --cases {args.cases} --store {args.store}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}. Generator: "
        f"{args.stations} x `mosquitto_pub -l -q 1` (C), one per simulated station, on the same "
        "box. Each case has its own mosquitto (no persistence, unlimited queues) and store. "
        f"Medians of the runs, (min-max). Load average before/after: {load[0][0]:.1f} / "
        f"{load[1][0]:.1f} (other work on the box shares the cores).",
        "",
        *pg_line,
        "| case | store | events/s | ratio to raw (same protocol) | ratio to the SQLite gateway |"
        " arrival→commit p50 / p99 ms | CPU µs/event | PostgreSQL CPU µs/event | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, runs in results.items():
        case, _, store = key.partition("@")
        label, workers, _, baseline = CASES[case]
        med, lo, hi = median_of(runs, "per_s")
        base = results.get(baseline)
        ratio = med / median_of(base, "per_s")[0] if base else float("nan")
        sqlite = results.get(case) if store else None
        vs_sqlite = f"{med / median_of(sqlite, 'per_s')[0]:.2f}" if sqlite else "-"
        lat = rss = db_cpu = "-"
        if workers:
            lat = f"{median_of(runs, 'wait_p50')[0]:.0f} / {median_of(runs, 'wait_p99')[0]:.0f}"
            rss = f"{median_of(runs, 'peak_mb')[0]:.0f}"
        if workers > 1:
            rss += f" per worker ({median_of(runs, 'peak_mb_all')[0]:.0f} all)"
        if store:
            db_cpu = f"{median_of(runs, 'db_cpu_us')[0]:.0f}"
        name = STORES[store or "sqlite"] if workers else "-"
        lines.append(
            f"| {label} | {name} | {med:,.0f} ({lo:,.0f}-{hi:,.0f}) | {ratio:.2f} | {vs_sqlite} |"
            f" {lat} | {median_of(runs, 'cpu_us')[0]:.0f} | {db_cpu} | {rss} |"
        )
    lines += [
        "",
        f"Paced {args.rate:g} events/s for {args.paced_secs:g} s from one paho publisher (`ts` set "
        "at publish), publish→commit from the store's columns:",
        "",
        "| consumer | p50 ms | p99 ms | batches | CPU µs/event |",
        "|---|---|---|---|---|",
        f"| raw paho subscriber (publish→arrival, no store) | {paced_raw['e2e_p50']:.1f} | "
        f"{paced_raw['e2e_p99']:.1f} | - | {paced_raw['cpu_us']:.0f} |",
    ]
    for (store, idle), res in paced.items():
        policy = "commit when idle (default)" if idle else "size/time only (batch_ms 50)"
        name = f"gateway on {STORES[store]}, {policy}"
        lines.append(
            f"| {name} | {res['e2e_p50']:.0f} | {res['e2e_p99']:.0f} | "
            f"{res['batches']:.0f} | {res['cpu_us']:.0f} |"
        )
    if long:
        rss = long["rss"]
        marks = [rss[int(i * (len(rss) - 1) / 4)] for i in range(5)] if rss else []
        prof = ", ".join(f"{t:.0f} s: {kb / 1024:.0f} MB" for t, kb in marks)
        lines += [
            "",
            f"Long run on {STORES[stores[0]]}: {long['rows']:,} events in chunks of 50,000, "
            f"{long['per_s']:,.0f} events/s, peak RSS {long['peak_mb']:.0f} MB; "
            f"RSS over time: {prof}.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
