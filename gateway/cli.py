"""`dockscan gateway`: run the site gateway (ingest, store, web UI) and export its data."""

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dockscan.cli import config_option, handle_errors
from dockscan.config import SiteConfig, load_config
from dockscan.errors import ConfigError

if TYPE_CHECKING:
    from gateway.ingest import Ingest
    from gateway.keeper import Keeper

logger = logging.getLogger(__name__)
DEFAULT_GROUP = "dockscan-gw"


@click.group("gateway", context_settings={"help_option_names": ["-h", "--help"]})
def gateway() -> None:
    """Gateway commands.

    Example: dockscan gateway run -c site.toml
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

    if cfg.broker.transport == "nats":
        from gateway.nats_ingest import NatsIngest

        client_id = cfg.gateway.id if workers == 1 else f"{cfg.gateway.id}-w{index}"
        return NatsIngest(cfg, stop, client_id=client_id, owns_liveness=liveness and index == 1)
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
    help="Ingest processes sharing the parcels ($share on MQTT 5, or the NATS durable consumer);"
    " worker 1 takes part in the site duties.",
)
@click.option("--worker", "worker_index", type=int, hidden=True, help="Internal: run worker N.")
@click.option(
    "--no-liveness",
    is_flag=True,
    help="Only ingest parcels: no status or telemetry, no part in the site duties lease.",
)
@handle_errors
def run(
    config_path: str, ui: bool, workers: int, worker_index: int | None, no_liveness: bool
) -> None:
    """Ingest parcel events, status and telemetry into the store until SIGINT/SIGTERM.

    On stop the open batch is committed and acknowledged, the gateway's retained status goes
    offline and the session ends cleanly; unacknowledged messages stay with the broker.

    Example: dockscan gateway run -c site.toml --ui --workers 2
    """
    cfg = load_config(config_path)
    nats = cfg.broker.transport == "nats"  # workers share a durable JetStream consumer
    if workers > 1 and cfg.broker.protocol != "5" and not nats:
        raise ConfigError(config_path, "broker.protocol", "--workers > 1 needs MQTT 5 ($share)")
    if cfg.gateway.shared_group and cfg.broker.protocol != "5":
        raise ConfigError(config_path, "gateway.shared_group", "shared subscriptions need MQTT 5")
    stop = _stop_on_signals()
    if worker_index is not None:
        with _drop_folder(cfg, stop, worker_index == 1):
            _worker(cfg, stop, worker_index, workers, not no_liveness).run()
        return
    children = [_spawn(config_path, "ui")] if ui else []
    if workers == 1:
        keeper, code = _keep_reconciler(cfg, config_path), 1
        try:
            with _drop_folder(cfg, stop, True):
                code = _run_with_children(cfg, stop, children, not no_liveness)
        finally:
            code = max(code, keeper.finish()) if keeper is not None else code
        sys.exit(code)
    for i in range(1, workers + 1):
        children.append(_spawn(config_path, "run", f"--workers={workers}", f"--worker={i}"))
    if cfg.reconcile.enabled:
        children.append(_spawn(config_path, "reconcile", f"--parent={os.getpid()}"))
    sys.exit(_supervise(children, stop))


def _keep_reconciler(cfg: SiteConfig, config_path: str) -> "Keeper | None":
    """Start `gateway reconcile` beside the ingest run here (restarted if it dies); None if off.

    The caller stops it after the ingest, so it judges the ingest's last batch first.
    """
    from gateway.keeper import Keeper

    if not cfg.reconcile.enabled:
        return None
    argv = [sys.executable, "-m", "dockscan", "gateway", "reconcile", "-c", config_path,
            f"--parent={os.getpid()}"]  # fmt: skip
    keeper = Keeper("reconcile", argv, threading.Event())
    keeper.start()
    return keeper


@contextmanager
def _drop_folder(cfg: SiteConfig, stop: threading.Event, watch: bool) -> Iterator[None]:
    """Watch manifests.drop_folder on a thread while the block runs (one process per gateway)."""
    from gateway.manifests import watch as drop

    finish = drop.start(cfg, stop) if watch else None
    try:
        yield
    finally:
        if finish is not None:
            finish()


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


@gateway.command("reconcile")
@config_option
@click.option(
    "--parent", type=int, default=None, hidden=True, help="Internal: stop when this pid is gone."
)
@handle_errors
def reconcile_cmd(config_path: str, parent: int | None) -> None:
    """Decide the verdicts of stored parcels and publish them to the stations until SIGTERM.

    `gateway run` starts one beside its ingest; run it by hand only to judge parcels left
    queued while no gateway ran. Several may run on one store: they take turns.

    Example: dockscan gateway reconcile -c site.toml
    """
    from gateway.reconcile.worker import ReconcileWorker

    cfg = load_config(config_path)
    if not cfg.reconcile.enabled:
        raise ConfigError(config_path, "reconcile.enabled", "reconciliation is off")
    ReconcileWorker(cfg, _stop_on_signals(), parent).run()


@gateway.command("ui")
@config_option
@click.option("--bind", default=None, help="HOST:PORT to listen on (default gateway.http_bind).")
@handle_errors
def ui(config_path: str, bind: str | None) -> None:
    """Serve the status UI, JSON API and /metrics from the gateway store.

    Example: dockscan gateway ui -c site.toml --bind 127.0.0.1:8080
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
    from gateway.db import is_postgres
    from gateway.export import ExportError, export, parse_time
    from gateway.store import open_db

    gw = load_config(config_path).gateway
    path = db or gw.database
    if not is_postgres(path) and not Path(path).exists():
        raise ConfigError(config_path, "gateway.database", f"no database at {path}")
    since_ms = parse_time(since)
    until_ms = parse_time(until) if until else now_ms() + 1
    if until_ms <= since_ms:
        raise ExportError("--until must be after --since")
    conn = open_db(path, gw.database_password())
    try:
        if output == "-":
            n = export(conn, sys.stdout, fmt, since_ms, until_ms, station)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                n = export(conn, out, fmt, since_ms, until_ms, station)
    finally:
        conn.close()
    click.echo(f"exported {n} parcels", err=True)


@gateway.command("backup")
@config_option
@click.option("-o", "--output", required=True, help="The copy to write (refused if it exists).")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--db", default=None, help="Database file (default gateway.database).")
@click.option("--step-pages", type=click.IntRange(1), default=1024, show_default=True,
              help="Pages copied per step; ingest gets the disk between steps.")  # fmt: skip
@click.option("--quick", is_flag=True, help="PRAGMA quick_check instead of integrity_check.")
@handle_errors
def backup_cmd(
    config_path: str, output: str, force: bool, db: str | None, step_pages: int, quick: bool
) -> None:
    """Copy the store online (ingest keeps running) to OUTPUT, check it and print its figures.

    The copy is one consistent snapshot. To restore: stop the gateway, copy the file to
    gateway.database (remove any stale -wal and -shm beside it), start the gateway.

    Example: dockscan gateway backup -c site.toml -o /var/backups/dockscan/gw-2026-11-27.db
    """
    from gateway.backup import backup
    from gateway.db import is_postgres

    path = db or load_config(config_path).gateway.database
    if is_postgres(path):
        raise ConfigError(
            config_path, "gateway.database",
            "backup copies a SQLite store; back up PostgreSQL with pg_dump or pg_basebackup",
        )  # fmt: skip
    r = backup(path, output, force=force, step_pages=step_pages, quick=quick)
    counts = ", ".join(f"{table} {n}" for table, n in r.counts.items())
    click.echo(f"backup {r.path}: {r.size_bytes} bytes ({r.pages} pages in {r.steps} steps)"
               f" in {r.seconds:.2f} s")  # fmt: skip
    click.echo(f"integrity {r.integrity}, schema version {r.schema_version}, {counts}")


from gateway.hold_cli import hold  # noqa: E402
from gateway.manifest_cli import manifest  # noqa: E402

gateway.add_command(manifest)
gateway.add_command(hold)
