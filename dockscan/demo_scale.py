"""`dockscan demo --scale`: the scaled topology on one machine, as real processes.

A 3-node NATS cluster (JetStream, MQTT listeners) carries the stations' MQTT; two gateways
share its durable parcel consumer and one PostgreSQL; each serves the board. Everything is
started afresh each run: NATS under the workdir, PostgreSQL in a temporary folder.
"""

import os
import shutil
import signal
from pathlib import Path

from dockscan.config import load_config
from dockscan.demo import Demo, demo_site_toml, operator_token, start_stations
from dockscan.errors import DockscanError
from dockscan.localsvc.nats import NatsCluster, nats_binary
from dockscan.localsvc.net import free_port
from dockscan.localsvc.postgres import PASSWORD, Postgres, bindir

PASSWORD_ENV = "DOCKSCAN_DEMO_PG_PASSWORD"
DATABASE = "dockscan"


class MissingTools(DockscanError):
    """The scaled demo needs programs this machine does not have."""

    exit_code = 2


def missing_tools() -> list[str]:
    """Return an install hint for each program the scaled demo needs and cannot find."""
    missing = []
    for probe in (nats_binary, bindir):
        try:
            probe()
        except RuntimeError as exc:
            missing.append(str(exc))
    return missing


def _scale_lines(cluster: NatsCluster, pg: Postgres) -> tuple[list[str], list[str]]:
    """Return the [broker] and [gateway] lines of the scaled site config."""
    quoted = ", ".join(f'"{u}"' for u in cluster.mqtt_urls)
    nats = ", ".join(f'"{u}"' for u in cluster.urls)
    broker = [
        f"urls = [{quoted}]",
        'protocol = "3.1.1"',
        'transport = "nats"',
        f"nats_urls = [{nats}]",
    ]
    gateway = [f'database = "{pg.url(DATABASE)}"', f'database_password_env = "{PASSWORD_ENV}"']
    return broker, gateway


def run_scaled_demo(config_path: str, stations: int, http_bind: str, workdir: str) -> None:
    """Run NATS x3, PostgreSQL, two gateways and the stations until Ctrl-C."""
    missing = missing_tools()
    if missing:
        raise MissingTools("demo --scale cannot start: " + "; ".join(missing))
    base = load_config(config_path)
    work = Path(workdir).resolve()
    shutil.rmtree(work / "nats", ignore_errors=True)  # a fresh cluster each run
    (work / "tty").mkdir(parents=True, exist_ok=True)
    demo = Demo(work)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: demo.stop_event.set())
    # PostgreSQL runs as the `postgres` user when we are root: its data goes in a temporary
    # folder that user can reach (deleted at the end, like the rest of the demo's data).
    cluster, pg = NatsCluster(work / "nats"), Postgres(fsync=True)
    try:
        print("Starting a 3-node NATS cluster and PostgreSQL ...", flush=True)
        cluster.start()
        pg.start()
        pg.admin(f'CREATE DATABASE "{DATABASE}"')
        os.environ[PASSWORD_ENV] = PASSWORD  # the gateways' children read it
        token = operator_token()
        secret = work / "pg-password"
        secret.write_text(PASSWORD + "\n")
        secret.chmod(0o600)
        broker_lines, gateway_lines = _scale_lines(cluster, pg)
        host = http_bind.rsplit(":", 1)[0]
        second_ui = f"{host}:{free_port()}"
        files = []
        for gw, bind in (("gw-1", http_bind), ("gw-2", second_ui)):
            text = demo_site_toml(
                base, base.broker, stations, bind, work, broker_lines,
                [f'id = "{gw}"', *gateway_lines],
            )  # fmt: skip
            path = work / f"site-{gw}.toml"
            path.write_text(text)
            files.append(path)
        gateways = [
            demo.spawn(f"gateway-{gw}", "dockscan", "gateway", "run", "-c", str(path), "--ui")
            for gw, path in zip(("gw-1", "gw-2"), files, strict=True)
        ]
        site = load_config(files[0])
        start_stations(demo, site, str(files[0]))
        pids = ", ".join(f"{g.name} pid {g.proc.pid}" for g in gateways if g.proc)
        print(
            f"\ndockscan scaled demo is running ({len(site.stations)} stations, site"
            f" {site.site.id}).\n"
            f"  Status boards:   http://{http_bind}/ (gw-1), http://{second_ui}/ (gw-2)\n"
            f"  Operator token:  {token} (log in to clear no-reads, set holds)\n"
            f"  NATS (MQTT):     {', '.join(cluster.mqtt_urls)}\n"
            f"  PostgreSQL:      {pg.url(DATABASE)} (password in {secret})\n"
            f"  Gateways:        {pids}; `kill -9` one and watch the other take over\n"
            f"  Logs and data:   {work}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        demo.watch()
    finally:
        print("Stopping the scaled demo ...", flush=True)
        demo.stop()
        cluster.stop()
        pg.destroy()
        print("Stopped.")
