"""The `dockscan doctor` command (registered through the `dockscan.commands` entry point)."""

import sys

import click

from dockscan.cli import CONTEXT_SETTINGS, config_option
from dockscan.doctor.output import as_json, table
from dockscan.doctor.runner import exit_code, run_doctor


@click.command("doctor", context_settings=CONTEXT_SETTINGS)
@config_option
@click.option("--station", "station_id", help="Check this station's host (devices, outbox).")
@click.option("--gateway", "gateway", is_flag=True, help="Check the gateway host instead.")
@click.option("--json", "as_json_flag", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.5, 60),
    default=5.0,
    show_default=True,
    help="Seconds each network or camera check may wait.",
)
def doctor(
    config_path: str, station_id: str | None, gateway: bool, as_json_flag: bool, timeout: float
) -> None:
    """Check a station or gateway host before go-live: config, devices, broker, ACL, clock, disk.

    Prints one row per check (ok / warn / FAIL) with a fix under each failure. Exits 1 when
    any check failed, 0 otherwise (warnings alone pass), 2 on bad usage.

    Example: dockscan doctor -c /etc/dockscan/site.toml --station dock07-a
    """
    if bool(station_id) == gateway:
        raise click.UsageError("give exactly one of --station ID or --gateway")
    target, results = run_doctor(config_path, station_id, timeout)
    click.echo(as_json(target, results) if as_json_flag else table(target, results))
    sys.exit(exit_code(results))
