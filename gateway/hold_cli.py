"""`dockscan gateway hold`: customs holds on tracking ids (set, release, list, history).

A change is written to the store at once; the gateway holding the site duties publishes the new
hold list to the stations within about a second (at its next start if none runs).
"""

import getpass
import json
from pathlib import Path
from typing import Any

import click

from dockscan.cli import config_option, handle_errors
from dockscan.config import SiteConfig, load_config
from dockscan.errors import ConfigError
from gateway.holds import REASONS

ACTOR_HELP = "Who makes the change (default: the login name)."


@click.group("hold", context_settings={"help_option_names": ["-h", "--help"]})
def hold() -> None:
    """Customs hold commands.

    Example: dockscan gateway hold set RR123456785CN --reason customs_referral -c site.toml
    """


def _actor(actor: str | None) -> str:
    """Return the actor given, else the login name."""
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _open(config_path: str, db: str | None) -> tuple[SiteConfig, Any]:
    """Return (config, a connection to the store), refusing a SQLite path that does not exist."""
    from gateway.db import is_postgres
    from gateway.store import open_db

    cfg = load_config(config_path)
    path = db or cfg.gateway.database
    if not is_postgres(path) and not Path(path).exists():
        raise ConfigError(config_path, "gateway.database", f"no database at {path}")
    return cfg, open_db(path, cfg.gateway.database_password())


@hold.command("set")
@config_option
@click.argument("tracking_id")
@click.option("--reason", type=click.Choice(REASONS), required=True, help="Why it is held.")
@click.option("--note", default="", help="Free text shown with the hold (256 characters).")
@click.option("--actor", default=None, help=ACTOR_HELP)
@click.option("--db", default=None, help="Database (default gateway.database).")
@handle_errors
def set_cmd(
    config_path: str, tracking_id: str, reason: str, note: str, actor: str | None, db: str | None
) -> None:
    """Hold TRACKING_ID (as printed: it is normalised as a scan is), or change its reason.

    Example: dockscan gateway hold set "RR 123 456 785 CN" --reason inspection --note "x-ray"
    """
    from gateway.clock import now_ms
    from gateway.holds import set_hold
    from gateway.manifests.importer import classifier_for

    cfg, conn = _open(config_path, db)
    try:
        done = set_hold(conn, tracking_id, reason, note, _actor(actor), "cli",
                        classifier_for(cfg), now_ms())  # fmt: skip
    finally:
        conn.close()
    if not done.changed:
        click.echo(f"{done.change.tracking_id} was held already ({reason})")
    elif done.previous == reason:
        click.echo(f"held {done.change.tracking_id}: {reason}, note changed")
    elif done.previous:
        click.echo(f"held {done.change.tracking_id}: {done.previous} -> {reason}")
    else:
        click.echo(f"held {done.change.tracking_id}: {reason}")


@hold.command("release")
@config_option
@click.argument("tracking_id")
@click.option("--note", default="", help="Why it is released.")
@click.option("--actor", default=None, help=ACTOR_HELP)
@click.option("--db", default=None, help="Database (default gateway.database).")
@handle_errors
def release_cmd(
    config_path: str, tracking_id: str, note: str, actor: str | None, db: str | None
) -> None:
    """Release a held TRACKING_ID (an error if it is not held).

    Example: dockscan gateway hold release RR123456785CN --note "cleared by customs"
    """
    from gateway.clock import now_ms
    from gateway.holds import release_hold
    from gateway.manifests.importer import classifier_for

    cfg, conn = _open(config_path, db)
    try:
        done = release_hold(conn, tracking_id, _actor(actor), "cli", classifier_for(cfg),
                            now_ms(), note)  # fmt: skip
    finally:
        conn.close()
    click.echo(f"released {done.change.tracking_id} (was {done.previous})")


@hold.command("list")
@config_option
@click.option("--db", default=None, help="Database (default gateway.database).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@handle_errors
def list_cmd(config_path: str, db: str | None, as_json: bool) -> None:
    """List the current holds by tracking id, with the version stations get.

    Example: dockscan gateway hold list --json -c site.toml
    """
    from gateway.clock import from_ms
    from gateway.holds import snapshot

    _, conn = _open(config_path, db)
    try:
        version, rows = snapshot(conn)
    finally:
        conn.close()
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            since = from_ms(row["set_ms"]).strftime("%Y-%m-%d %H:%M:%SZ")
            click.echo(f"{row['tracking_id']}\t{row['reason']}\t{since}\t{row['actor']}"
                       f"\t{row['source']}\t{row['note']}")  # fmt: skip
    if not as_json:
        click.echo(f"{len(rows)} holds, version {version}", err=True)


@hold.command("history")
@config_option
@click.argument("tracking_id", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Changes to print, newest first.")  # fmt: skip
@click.option("--db", default=None, help="Database (default gateway.database).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@handle_errors
def history_cmd(
    config_path: str, tracking_id: str | None, limit: int, db: str | None, as_json: bool
) -> None:
    """Print the hold changes (of TRACKING_ID when given), newest first: who, when, why.

    Example: dockscan gateway hold history RR123456785CN -c site.toml
    """
    from gateway.clock import from_ms
    from gateway.holds import hold_history, normalise
    from gateway.manifests.importer import classifier_for

    cfg, conn = _open(config_path, db)
    try:
        wanted = normalise(tracking_id, classifier_for(cfg)) if tracking_id else None
        rows = hold_history(conn, wanted, limit)
    finally:
        conn.close()
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            at = from_ms(row["at_ms"]).strftime("%Y-%m-%d %H:%M:%SZ")
            click.echo(f"{row['id']}\t{at}\t{row['action']}\t{row['tracking_id']}"
                       f"\t{row['reason'] or '-'}\t{row['actor']}\t{row['source']}"
                       f"\t{row['note']}")  # fmt: skip
    if not rows and not as_json:
        click.echo("no hold changes", err=True)
