"""`dockscan gateway`: run the site gateway (ingest, store, web UI) and export its data."""

import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dockscan.cli import config_option, handle_errors
from dockscan.config import SiteConfig, load_config
from dockscan.errors import ConfigError

if TYPE_CHECKING:
    from gateway.ingest import Ingest

logger = logging.getLogger(__name__)
DEFAULT_GROUP = "dockscan-gw"


@click.group("gateway", context_settings={"help_option_names": ["-h", "--help"]})
def gateway() -> None:
    """Gateway commands.

    Example: dockscan gateway run -c config/demo.toml
    """


def _stop_on_signals() -> threading.Event:
    """Return an event that SIGINT and SIGTERM set."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _spawn(config_path: str, *args: str) -> subprocess.Popen:
    """Start `python -m dockscan gateway <args> -c CONFIG` as a child process."""
    argv = [sys.executable, "-m", "dockscan", "gateway", *args, "-c", config_path]
    return subprocess.Popen(argv)


def _supervise(children: list[subprocess.Popen], stop: threading.Event) -> int:
    """Wait until stopped or a child exits; then stop every child; return the worst exit code."""
    while not stop.wait(0.5):
        if any(child.poll() is not None for child in children):
            logger.error("a gateway child process exited; stopping the others")
            break
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    codes = []
    for child in children:
        try:
            codes.append(child.wait(30))
        except subprocess.TimeoutExpired:
            child.kill()
            codes.append(child.wait())
    return max((abs(c) for c in codes), default=0)


def _worker(
    cfg: SiteConfig, stop: threading.Event, index: int, workers: int, liveness: bool
) -> "Ingest":
    """Build the ingest worker `index` of `workers` (1-based)."""
    from gateway.ingest import Ingest

    if workers == 1:
        return Ingest(cfg, stop, owns_liveness=liveness)
    group = cfg.gateway.shared_group or DEFAULT_GROUP
    return Ingest(
        cfg,
        stop,
        client_id=f"{cfg.gateway.id}-w{index}",
        shared_group=group,
        owns_liveness=liveness and index == 1,
    )


@gateway.command("run")
@config_option
@click.option("--ui", is_flag=True, help="Also start the web UI (`gateway ui`) as a child process.")
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Ingest processes sharing the parcel topic ($share, MQTT 5); worker 1 does liveness.",
)
@click.option("--worker", "worker_index", type=int, hidden=True, help="Internal: run worker N.")
@click.option(
    "--no-liveness",
    is_flag=True,
    help="Only ingest parcels (for a second gateway process in the same shared group).",
)
@handle_errors
def run(
    config_path: str, ui: bool, workers: int, worker_index: int | None, no_liveness: bool
) -> None:
    """Ingest parcel events, status and telemetry into the store until SIGINT/SIGTERM.

    On stop the open batch is committed and acknowledged, the gateway's retained status goes
    offline and the session ends cleanly; unacknowledged messages stay with the broker.

    Example: dockscan gateway run -c config/demo.toml --ui --workers 2
    """
    cfg = load_config(config_path)
    if workers > 1 and cfg.broker.protocol != "5":
        raise ConfigError(config_path, "broker.protocol", "--workers > 1 needs MQTT 5 ($share)")
    if cfg.gateway.shared_group and cfg.broker.protocol != "5":
        raise ConfigError(config_path, "gateway.shared_group", "shared subscriptions need MQTT 5")
    stop = _stop_on_signals()
    if worker_index is not None or (workers == 1 and not ui):
        _worker(cfg, stop, worker_index or 1, workers, not no_liveness).run()
        return
    children = [_spawn(config_path, "ui")] if ui else []
    if workers == 1:
        sys.exit(_run_with_children(cfg, stop, children, not no_liveness))
    for i in range(1, workers + 1):
        children.append(_spawn(config_path, "run", f"--workers={workers}", f"--worker={i}"))
    sys.exit(_supervise(children, stop))


def _run_with_children(
    cfg: SiteConfig, stop: threading.Event, children: list[subprocess.Popen], liveness: bool
) -> int:
    """Run ingest in this process while children (the UI) run beside it; stop them after."""
    try:
        _worker(cfg, stop, 1, 1, liveness).run()
    finally:
        stop.set()
        code = _supervise(children, stop)
    return code


@gateway.command("ui")
@config_option
@click.option("--bind", default=None, help="HOST:PORT to listen on (default gateway.http_bind).")
@handle_errors
def ui(config_path: str, bind: str | None) -> None:
    """Serve the status UI, JSON API and /metrics from the gateway store.

    Example: dockscan gateway ui -c config/demo.toml --bind 127.0.0.1:8080
    """
    from gateway.web.server import serve

    serve(load_config(config_path), bind)


@gateway.command("export")
@config_option
@click.option("--since", default="1970-01-01", help="Start time, ISO 8601 (UTC unless offset).")
@click.option("--until", default=None, help="End time (exclusive), ISO 8601; default now.")
@click.option("--station", default=None, help="Only this station.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("-o", "--output", default="-", help="Output file ('-' for stdout).")
@click.option("--db", default=None, help="Database file (default gateway.database).")
@handle_errors
def export_cmd(
    config_path: str,
    since: str,
    until: str | None,
    station: str | None,
    fmt: str,
    output: str,
    db: str | None,
) -> None:
    """Export the parcels captured in [--since, --until) as CSV or JSON lines.

    JSON lines are the events exactly as the stations sent them.

    Example: dockscan gateway export --since 2026-11-27 --until 2026-11-28 -o day.csv
    """
    from gateway.clock import now_ms
    from gateway.export import ExportError, export, parse_time
    from gateway.store import open_db

    path = db or load_config(config_path).gateway.database
    if not Path(path).exists():
        raise ConfigError(config_path, "gateway.database", f"no database at {path}")
    since_ms = parse_time(since)
    until_ms = parse_time(until) if until else now_ms() + 1
    if until_ms <= since_ms:
        raise ExportError("--until must be after --since")
    conn = open_db(path).conn
    try:
        if output == "-":
            n = export(conn, sys.stdout, fmt, since_ms, until_ms, station)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                n = export(conn, out, fmt, since_ms, until_ms, station)
    finally:
        conn.close()
    click.echo(f"exported {n} parcels", err=True)
