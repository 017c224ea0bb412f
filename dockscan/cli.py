"""The `dockscan` command: a Click root whose subcommands come from entry points."""

import functools
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from dockscan import __version__, logs
from dockscan.config import load_config
from dockscan.errors import DockscanError
from dockscan.init import packaged_config, write_site

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEFAULT_CONFIG = str(packaged_config("demo.toml"))


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn DockscanError into a one-line message and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DockscanError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    default=DEFAULT_CONFIG,
    show_default="the packaged demo.toml",
    envvar="DOCKSCAN_CONFIG",
    help="Site configuration file (TOML).",
)


class EntryPointGroup(click.Group):
    """A group that also lists the commands registered under `dockscan.commands`."""

    def _plugins(self) -> dict[str, Any]:
        """Return the entry points that provide subcommands."""
        return {ep.name: ep for ep in entry_points(group="dockscan.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """List built-in and plugged-in commands."""
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return a built-in command or load one from its entry point."""
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in self._plugins():
            cmd = self._plugins()[cmd_name].load()
        return cmd


@click.group(cls=EntryPointGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="dockscan")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for paho too).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(verbose: int, quiet: bool) -> None:
    """dockscan: loss-free dock scanning for parcel hubs.

    Example: dockscan demo
    """
    logs.setup(-1 if quiet else verbose)


@cli.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False))
@handle_errors
def check_config(path: str) -> None:
    """Validate a site config file; on error print file, key path and reason (exit 2).

    Example: dockscan check-config site.toml
    """
    cfg = load_config(path)
    devices = sum(len(s.devices) for s in cfg.stations)
    click.echo(f"{path}: ok (site {cfg.site.id}, {len(cfg.stations)} stations, {devices} devices)")


@cli.command("init")
@click.option("-o", "--out", default="site.toml", show_default=True, help="File to write.")
@click.option("--site", default="LGG", show_default=True, help="Site id (part of every topic).")
@click.option("--stations", default=1, show_default=True, help="Station sections to write.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@handle_errors
def init(out: str, site: str, stations: int, force: bool) -> None:
    """Write a starter site config from the packaged example, commented, ready to edit.

    Example: dockscan init -o /etc/dockscan/site.toml --site LGG --stations 12
    """
    write_site(Path(out), site, stations, force)
    click.echo(f"wrote {out} (site {site}, {stations} stations); check it with "
               f"`dockscan check-config {out}`")  # fmt: skip


@cli.command("schema")
@click.option("-o", "--out", default="docs/schema", show_default=True, help="Output folder.")
@click.option("--check", is_flag=True, help="Fail if the files on disk are out of date.")
@handle_errors
def schema(out: str, check: bool) -> None:
    """Write the JSON Schema of every MQTT payload and the AsyncAPI document.

    Example: dockscan schema --out docs/schema
    """
    from dockscan.schema import render_all

    stale = []
    for name, text in render_all().items():
        target = Path(out) / name if name.endswith(".json") else Path(out).parent / name
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        click.echo(f"wrote {target}")
    if stale:
        raise click.ClickException("out of date (run `dockscan schema`): " + ", ".join(stale))


@cli.command("demo")
@config_option
@click.option("--stations", default=3, show_default=True, help="Simulated stations to run.")
@click.option("--http", "http_bind", default="127.0.0.1:8080", show_default=True)
@click.option("--workdir", default=None, help="Databases and logs [var/demo, var/demo-scale].")
@click.option("--scale", is_flag=True, help="NATS cluster, PostgreSQL and two gateways.")
@handle_errors
def demo(config_path: str, stations: int, http_bind: str, workdir: str | None, scale: bool) -> None:
    """Run the whole system: broker, gateway with UI, and simulated stations.

    Uses the broker at the configured URL if one answers, else starts mosquitto,
    else the embedded Python broker. With --scale: a NATS cluster, PostgreSQL and two
    gateways sharing the work instead. Ctrl-C stops everything.

    Example: dockscan demo --stations 3
    """
    if scale:
        from dockscan.demo_scale import run_scaled_demo

        run_scaled_demo(config_path, stations, http_bind, workdir or "var/demo-scale")
        return
    from dockscan.demo import run_demo

    run_demo(config_path, stations=stations, http_bind=http_bind, workdir=workdir or "var/demo")


@cli.command("broker-config")
@config_option
@click.option("-o", "--out", default="var/broker", show_default=True, help="Output folder.")
@click.option("--integrator", "integrators", multiple=True, default=["integrator"],
              show_default=True, help="Read-only integrator user (repeatable).")  # fmt: skip
@click.option("--hold-requester", "hold_requesters", multiple=True, default=["customs"],
              show_default=True, help="User that may request holds (repeatable).")  # fmt: skip
@handle_errors
def broker_config(
    config_path: str, out: str, integrators: tuple[str, ...], hold_requesters: tuple[str, ...]
) -> None:
    """Generate Mosquitto passwd and ACL files, and one env file of credentials per client.

    Use with config/mosquitto.conf (password_file and acl_file point at these files).

    Example: dockscan broker-config -c /etc/dockscan/site.toml -o /etc/mosquitto/dockscan
    """
    from dockscan.brokerconf import write_broker_files

    creds = write_broker_files(load_config(config_path), Path(out), integrators, hold_requesters)
    click.echo(f"wrote {out}/acl, {out}/passwd and {len(creds)} env files ({', '.join(creds)})")
