"""`dockscan gateway manifest`: import carrier manifests (the parcels a unit should bring)."""

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from dockscan.cli import config_option, handle_errors
from dockscan.config import load_config
from dockscan.errors import ConfigError

MISSING_SHOWN = 20  # missing lines the text report lists


@click.group("manifest", context_settings={"help_option_names": ["-h", "--help"]})
def manifest() -> None:
    """Manifest commands.

    Example: dockscan gateway manifest import mawb.csv --mawb 176-12345675 -c site.toml
    """


@manifest.command("import")
@config_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--manifest-id", default=None, help="Manifest id (default KIND:REFERENCE).")
@click.option("--kind", type=click.Choice(["flight", "mawb", "uld", "bag"]), default=None,
              help="What the manifest lists (default: the one unit option given).")  # fmt: skip
@click.option("--carrier", default=None, help="Carrier code (IATA or ICAO).")
@click.option("--flight", default=None, help="Flight number, e.g. LH8400.")
@click.option("--flight-date", default=None, help="Flight date, YYYY-MM-DD.")
@click.option("--mawb", default=None, help="Master air waybill, NNN-NNNNNNNN.")
@click.option("--uld", default=None, help="ULD id, e.g. AKE12345CZ.")
@click.option("--bag", default=None, help="Bag id.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="File format (default: from the file name).")  # fmt: skip
@click.option("--db", default=None, help="Database (default gateway.database).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def import_cmd(
    config_path: str,
    file: str,
    manifest_id: str | None,
    kind: str | None,
    carrier: str | None,
    flight: str | None,
    flight_date: str | None,
    mawb: str | None,
    uld: str | None,
    bag: str | None,
    fmt: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Import FILE (CSV with a header, or JSON lines) into one manifest.

    The good lines are stored in one transaction and each rejected line is reported with its
    line number, field and reason. Importing the same file again changes nothing; a corrected
    file updates the lines that changed and keeps their previous values in the history.
    The CSV header names come from [manifests.columns]. Exit status: 0 imported (perhaps with
    some lines rejected), 1 the file cannot be read or the unit is wrong, 3 every line was
    rejected (nothing imported), 4 the manifest is closed.

    Example: dockscan gateway manifest import LH8400.csv --flight LH8400 --flight-date 2026-11-27
    """
    from gateway.manifests.importer import FileRejected, classifier_for, import_manifest
    from gateway.manifests.intake import report_json
    from gateway.manifests.model import make_header
    from gateway.reconcile.matcher import rejudger

    cfg = load_config(config_path)
    header = make_header(
        kind, manifest_id, carrier=carrier, flight=flight, flight_date=flight_date,
        mawb=mawb, uld=uld, bag=bag,
    )  # fmt: skip
    conn = _open(config_path, db)
    try:
        classifier = classifier_for(cfg)
        report = import_manifest(
            conn, file, header, cfg.manifests, classifier, fmt=fmt,
            on_reject=None if as_json else lambda r: click.echo(f"{file}: {r}", err=True),
            rejudge=rejudger(cfg, classifier),
        )  # fmt: skip
    except FileRejected as exc:
        if as_json:  # the rejected lines on stdout, the error on stderr
            out = {k: v for k, v in report_json(exc.report).items() if k != "summary"}
            click.echo(json.dumps({**out, "error": str(exc)}))
        raise
    finally:
        conn.close()
    if as_json:
        out = report_json(report)
        del out["summary"]
        click.echo(json.dumps(out))
    else:
        click.echo(report.summary())


def _open(config_path: str, db: str | None) -> Any:
    """Open the configured store (or --db), refusing a SQLite path that does not exist."""
    from gateway.db import is_postgres
    from gateway.store import open_db

    cfg = load_config(config_path)
    path = db or cfg.gateway.database
    if not is_postgres(path) and not Path(path).exists():
        raise ConfigError(config_path, "gateway.database", f"no database at {path}")
    return open_db(path, cfg.gateway.database_password())


@manifest.command("list")
@config_option
@click.option("--state", type=click.Choice(["open", "closed"]), default=None, help="Only these.")
@click.option("--db", default=None, help="Database (default gateway.database).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@handle_errors
def list_cmd(config_path: str, state: str | None, db: str | None, as_json: bool) -> None:
    """List manifests, newest first, with their line counts.

    Example: dockscan gateway manifest list --state open -c site.toml
    """
    from gateway.manifests.queries import list_manifests

    conn = _open(config_path, db)
    try:
        rows = list_manifests(conn, state)
    finally:
        conn.close()
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            active = row["lines"] - row["removed"]
            click.echo(f"{row['id']}\t{row['state']}\t{active} lines\t{row['source_name']}")
    if not rows and not as_json:
        click.echo("no manifests", err=True)


@manifest.command("show")
@config_option
@click.argument("manifest_id")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="Lines to print.")  # fmt: skip
@click.option("--removed", is_flag=True, help="Also lines a later file no longer lists.")
@click.option("--db", default=None, help="Database (default gateway.database).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@handle_errors
def show_cmd(
    config_path: str, manifest_id: str, limit: int, removed: bool, db: str | None, as_json: bool
) -> None:
    """Print one manifest's lines in file order.

    Example: dockscan gateway manifest show flight:LH8400:2026-11-27 -c site.toml
    """
    from gateway.manifests.queries import manifest_lines
    from gateway.manifests.store import manifest as manifest_row

    conn = _open(config_path, db)
    try:
        if manifest_row(conn, manifest_id) is None:
            raise click.ClickException(f"no manifest {manifest_id!r}")
        rows = manifest_lines(conn, manifest_id, limit, with_removed=removed)
    finally:
        conn.close()
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            kg = "-" if row["declared_kg"] is None else f"{row['declared_kg']:g} kg"
            gone = "\tremoved" if row["removed_ms"] else ""
            click.echo(f"{row['line_no']}\t{row['tracking_id']}\t{kg}{gone}")


@manifest.command("watch")
@config_option
@click.option("--once", is_flag=True, help="Take the files complete now, then exit.")
@click.option("--db", default=None, help="Database (default gateway.database).")
@handle_errors
def watch_cmd(config_path: str, once: bool, db: str | None) -> None:
    """Import the manifest files that arrive in manifests.drop_folder, until SIGINT/SIGTERM.

    A file is taken once its size and mtime held for manifests.drop_settle_s; dotfiles and
    .part, .filepart, .tmp and .partial files are left alone. The file name gives the header:
    flight_LH8400_2026-11-27.csv, mawb_176-12345675.csv, uld_AKE12345CZ.jsonl, bag_B0042.csv.
    Each file then goes to done/ (or rejected/, when nothing could be imported) with a
    NAME.report.json beside it. `gateway run` does the same when manifests.drop_folder is set.

    Example: dockscan gateway manifest watch -c site.toml --once
    """
    from gateway.manifests.watch import Busy, DropWatcher

    cfg = load_config(config_path)
    folder = cfg.manifests.drop_folder
    if not folder:
        raise ConfigError(config_path, "manifests.drop_folder", "is not set")
    if not Path(folder).is_dir():
        raise ConfigError(config_path, "manifests.drop_folder", f"no folder {folder}")
    _open(config_path, db).close()
    watcher = DropWatcher(cfg, database=db)
    if not once:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        watcher.run(stop)
        return
    try:
        outcomes = watcher.once()
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        watcher.close()
    for o in outcomes:
        what = o.report["summary"] if o.status == "done" else o.report["error"]
        click.echo(f"{o.status}\t{o.path}\t{what}")
    left = sorted(watcher.seen)
    if left:
        click.echo(f"not complete yet: {', '.join(left)}", err=True)


def _print_report(report: Any, as_json: bool, csv_path: str | None) -> None:
    """Print a close-out report as text (or JSON), and write its CSV to csv_path ('-': stdout)."""
    from gateway.manifests.closeout import report_csv, report_json

    if csv_path:
        with click.open_file(csv_path, "w", encoding="utf-8") as out:
            out.writelines(report_csv(report))
        if csv_path == "-":
            return
    if as_json:
        click.echo(json.dumps(report_json(report)))
        return
    click.echo(report.summary())
    for li in report.missing[:MISSING_SHOWN]:
        last = li.last_seen
        where = f"\t{last.via} last seen at {last.station}" if last else ""
        click.echo(f"missing\t{li.line_no}\t{li.tracking_id}{where}")
    if len(report.missing) > MISSING_SHOWN:
        click.echo(f"... {len(report.missing) - MISSING_SHOWN} more missing (see --csv or --json)")


@manifest.command("close")
@config_option
@click.argument("manifest_id")
@click.option("--actor", default=None, help="Who closes it (default: the login name).")
@click.option("--db", default=None, help="Database (default gateway.database).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "csv_path", default=None, metavar="FILE",
              help="Also write the report as CSV to FILE ('-': standard output).")  # fmt: skip
@handle_errors
def close_cmd(
    config_path: str,
    manifest_id: str,
    actor: str | None,
    db: str | None,
    as_json: bool,
    csv_path: str | None,
) -> None:
    """Close an open manifest and print its close-out report.

    In one transaction the manifest becomes closed (with when and who) and its
    dockscan.closeout/1 event is queued for the gateway holding the site lease to publish on
    dockscan/v1/SITE/hub/closeout. The report counts the parcels stored until then; parcels
    of its ids seen later no longer match it. Closing a closed manifest is an error (exit 1)
    that names when and by whom; `manifest report` prints its close-out again.

    Example: dockscan gateway manifest close mawb:176-12345675 --actor alice
    """
    import getpass

    from dockscan.topics import Topics
    from gateway.clock import now_ms
    from gateway.manifests.closeout import close
    from gateway.reconcile.worker import judge_pending

    cfg = load_config(config_path)
    conn = _open(config_path, db)
    try:
        now = now_ms()  # parcels stored after the queue is judged come after the close
        judge_pending(conn, cfg)
        report = close(conn, manifest_id, actor or getpass.getuser(), now, cfg)
    finally:
        conn.close()
    _print_report(report, as_json, csv_path)
    if not as_json and csv_path != "-":
        topic = Topics(cfg.broker.topic_prefix).hub(cfg.site.id, "closeout")
        click.echo(f"close-out event queued for {topic}", err=True)


@manifest.command("report")
@config_option
@click.argument("manifest_id")
@click.option("--db", default=None, help="Database (default gateway.database).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the report as CSV (every line).")
@handle_errors
def report_cmd(
    config_path: str, manifest_id: str, db: str | None, as_json: bool, as_csv: bool
) -> None:
    """Print a manifest's report: an open one's progress, a closed one's close-out.

    Counts expected, seen and missing lines (with where a missing line's bag or ULD was last
    seen), unexpected parcels captured while it was open, weight over and under, duplicates
    and holds seen. The CSV lists every line, then the unexpected parcels.

    Example: dockscan gateway manifest report mawb:176-12345675 --csv -c site.toml
    """
    from gateway.manifests.closeout import report

    conn = _open(config_path, db)
    try:
        result = report(conn, manifest_id)
    finally:
        conn.close()
    _print_report(result, as_json, "-" if as_csv else None)
