"""`dockscan edge`: run a station's edge agent and inspect its outbox."""

import json
import signal
from dataclasses import asdict
from pathlib import Path
from types import FrameType

import click

from dockscan.cli import config_option, handle_errors
from dockscan.config import load_config
from dockscan.errors import StoreError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group("edge", context_settings=CONTEXT)
def edge() -> None:
    """Edge agent commands (one agent per dock station).

    Example: dockscan edge run -c site.toml --station dock01
    """


@edge.command("run", context_settings=CONTEXT)
@config_option
@click.option("--station", "station_id", required=True, help="Station id from the config.")
@click.option("--outbox", "outbox", default=None, help="Outbox file (default: from config).")
@click.option(
    "--synthetic-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=100.0,
    show_default=True,
    help="Synthetic parcels per second (with --synthetic-count).",
)
@click.option(
    "--synthetic-count",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Feed this many synthetic scan+weight pairs to the station (load tests, no devices).",
)
@click.option(
    "--exit-when-drained",
    is_flag=True,
    help="Exit once the synthetic load is acknowledged by the gateway (outbox empty).",
)
@handle_errors
def run(
    config_path: str,
    station_id: str,
    outbox: str | None,
    synthetic_rate: float,
    synthetic_count: int,
    exit_when_drained: bool,
) -> None:
    """Run the edge agent of one station until SIGINT or SIGTERM.

    Reads the station's devices, pairs scans with weights, keeps every event in the
    outbox until the gateway acknowledges it, and serves the station screen on
    screen_bind. --synthetic-count N feeds N valid parcels at --synthetic-rate per
    second as if a scanner and a scale produced them.

    Example: dockscan edge run -c site.toml --station dock01 --synthetic-count 5000
    """
    from edge.agent import EdgeAgent

    agent = EdgeAgent(
        load_config(config_path),
        station_id,
        outbox=outbox,
        synthetic_rate=synthetic_rate,
        synthetic_count=synthetic_count,
        exit_when_drained=exit_when_drained,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        agent.stop_event.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    agent.run()


@edge.command("outbox", context_settings=CONTEXT)
@config_option
@click.option("--station", "station_id", required=True, help="Station id from the config.")
@click.option("--outbox", "outbox", default=None, help="Outbox file (default: from config).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handle_errors
def outbox_cmd(config_path: str, station_id: str, outbox: str | None, as_json: bool) -> None:
    """Print a station's outbox depth, states, oldest age, next seq and session.

    Example: dockscan edge outbox -c site.toml --station dock01 --json
    """
    from edge.agent import outbox_path
    from edge.outbox import Outbox

    path = outbox or str(outbox_path(load_config(config_path), station_id))
    if not Path(path).exists():
        raise StoreError(f"no outbox at {path}")
    box = Outbox(path)
    stats = box.stats()
    box.close()
    if as_json:
        click.echo(json.dumps({"path": path, **asdict(stats)}))
    else:
        age = "-" if stats.oldest_age_s is None else f"{stats.oldest_age_s:.1f}s"
        click.echo(
            f"{path}: depth {stats.depth} (pending {stats.pending}, sent {stats.sent}), "
            f"oldest {age}, next seq {stats.next_seq}, session {stats.session}, "
            f"dropped {stats.dropped}, refused {stats.refused}"
        )
