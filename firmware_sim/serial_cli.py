"""CLI commands for the serial simulators: scale, scanner and a coordinated station."""

import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import click

from firmware_sim.scales import SIMULATORS, make_scale_sim
from firmware_sim.scanner import TERMINATORS, ScannerSim
from firmware_sim.sim_thread import SerialSim
from firmware_sim.station_sim import SimulatedStation, StationMix, StationTiming, read_script

SETTINGS = {"help_option_names": ["-h", "--help"]}


class SecondsRange(click.ParamType):
    """A number of seconds (`2`) or a range (`1-3`)."""

    name = "seconds"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        """Parse `a` or `a-b` into (a, b)."""
        if isinstance(value, tuple):
            return value
        try:
            low, _, high = str(value).partition("-")
            pair = (float(low), float(high or low))
        except ValueError:
            self.fail(f"{value!r} is not a number of seconds or a range like 1-3", param, ctx)
        if pair[0] <= 0 or pair[1] < pair[0]:
            self.fail(f"{value!r}: need 0 < low <= high", param, ctx)
        return pair


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """Turn Ctrl-C and SIGTERM into a set event while the block runs, then restore them."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def catch_stop_signals() -> threading.Event:
    """Catch Ctrl-C and SIGTERM until the command ends (call it before creating any device)."""
    return click.get_current_context().with_resource(_stop_signals())


def run_until_signal(stop: threading.Event, done: threading.Event | None = None) -> None:
    """Block until `stop` (from catch_stop_signals) or `done` is set."""
    while not stop.wait(0.2):
        if done is not None and done.is_set():
            break


def repeat(sim: SerialSim, period: float, action: Callable[[], None]) -> None:
    """Run `action` on the simulator thread every `period` seconds."""

    def tick() -> None:
        action()
        sim.schedule(period, tick)

    sim.schedule(period, tick)


def start_or_fail(sim: SerialSim) -> None:
    """Start a simulator, turning OS errors (bad link path, busy port) into messages."""
    try:
        sim.start()
    except OSError as exc:
        raise click.ClickException(f"cannot create {sim.link}: {exc.strerror or exc}") from None


@click.command("scale", context_settings=SETTINGS)
@click.option("--protocol", type=click.Choice(sorted(SIMULATORS)), default="mt-sics")
@click.option("--link", required=True, help="Symlink to create for the pty, e.g. /tmp/dock1-scale.")
@click.option("--tcp", "tcp_port", type=int, help="Also serve socket://127.0.0.1:PORT.")
@click.option("--unit", type=click.Choice(["kg", "g", "lb"]), default="kg", show_default=True)
@click.option("--division", type=float, default=0.005, show_default=True)
@click.option("--capacity", type=float, default=60.0, show_default=True)
@click.option(
    "--rate", type=float, default=10.0, show_default=True, help="Frames/s when streaming."
)
@click.option("--parcels", type=SecondsRange(), help="Random parcels every N or A-B seconds.")
@click.option("--garbage-every", type=float, help="Send junk bytes every N seconds.")
@click.option("--unplug-every", type=float, help="Unplug for 1 s every N seconds.")
@click.option("--seed", type=int)
def scale(
    protocol: str,
    link: str,
    tcp_port: int | None,
    unit: str,
    division: float,
    capacity: float,
    rate: float,
    parcels: tuple[float, float] | None,
    garbage_every: float | None,
    unplug_every: float | None,
    seed: int | None,
) -> None:
    """Run a simulated scale on a pseudo-terminal until Ctrl-C.

    Example: dockscan sim scale --protocol mt-sics --link /tmp/dock1-scale --parcels 1-3
    """
    sim = make_scale_sim(
        protocol,
        link,
        tcp_port=tcp_port,
        unit=unit,
        division=division,
        capacity=capacity,
        rate_hz=rate,
        seed=seed,
    )
    stop = catch_stop_signals()
    start_or_fail(sim)
    if parcels:
        sim.auto_parcels(parcels)
    if garbage_every:
        repeat(sim, garbage_every, lambda: sim.port.write(sim.inject_garbage_bytes()))
    if unplug_every:
        repeat(sim, unplug_every, lambda: (sim.port.unplug(), sim.schedule(1.0, sim.port.open)))
    click.echo(f"{protocol} scale on {link} -> {sim.port.tty_path}; Ctrl-C to stop", err=True)
    try:
        run_until_signal(stop)
    finally:
        sim.stop()


@click.command("scanner", context_settings=SETTINGS)
@click.option("--link", required=True, help="Symlink to create for the pty, e.g. /tmp/dock1-scan.")
@click.option("--terminator", type=click.Choice(sorted(TERMINATORS)), default="cr")
@click.option("--aim/--no-aim", default=True, help="Prefix AIM symbology identifiers (]C1 ...).")
@click.option("--tcp", "tcp_port", type=int, help="Also serve socket://127.0.0.1:PORT.")
@click.option("--every", type=SecondsRange(), default="2", help="Type a code every N or A-B s.")
@click.option("--invalid", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--seed", type=int)
def scanner(
    link: str,
    terminator: str,
    aim: bool,
    tcp_port: int | None,
    every: tuple[float, float],
    invalid: float,
    seed: int | None,
) -> None:
    """Run a simulated hand scanner that types parcel codes until Ctrl-C.

    Example: dockscan sim scanner --link /tmp/dock1-scan --terminator cr --every 1-3
    """
    sim = ScannerSim(link, terminator=terminator, aim=aim, tcp_port=tcp_port, seed=seed)
    rng = random.Random(seed)
    stop = catch_stop_signals()
    start_or_fail(sim)

    def type_one() -> None:
        code = sim.type_random(valid=rng.random() >= invalid)
        click.echo(f"typed {code.text!r} ({code.kind}, check ok: {code.check_ok})", err=True)
        sim.schedule(rng.uniform(*every), type_one)

    sim.schedule(rng.uniform(*every), type_one)
    click.echo(f"scanner on {link} -> {sim.port.tty_path}; Ctrl-C to stop", err=True)
    try:
        run_until_signal(stop)
    finally:
        sim.stop()


@click.command("station", context_settings=SETTINGS)
@click.option("--scale-link", required=True, help="Symlink for the scale pty.")
@click.option("--scanner-link", help="Symlink for the scanner pty (not with --no-scanner).")
@click.option("--protocol", type=click.Choice(sorted(SIMULATORS)), default="mt-sics")
@click.option("--terminator", type=click.Choice(sorted(TERMINATORS)), default="cr")
@click.option(
    "--camera-http",
    "camera_port",
    type=click.IntRange(0, 65535),
    help="Also show each parcel's label to a camera served as MJPEG on this port.",
)
@click.option("--camera-fps", type=click.FloatRange(0.5, 30), default=6.0, show_default=True)
@click.option("--no-scanner", is_flag=True, help="Camera only: no hand scanner types the codes.")
@click.option("--interval", type=SecondsRange(), default="1-3", show_default=True)
@click.option("--count", type=click.IntRange(min=1), help="Stop after N parcels.")
@click.option("--no-read", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--no-weight", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--invalid", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--seed", type=int)
@click.option(
    "--parcels",
    "script_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Present these parcels first: one `code,kg[,unread]` line each (then random ones).",
)
def station(
    scale_link: str,
    scanner_link: str | None,
    protocol: str,
    terminator: str,
    camera_port: int | None,
    camera_fps: float,
    no_scanner: bool,
    interval: tuple[float, float],
    count: int | None,
    no_read: float,
    no_weight: float,
    invalid: float,
    seed: int | None,
    script_file: str | None,
) -> None:
    """Run a coordinated scale + scanner (and/or camera) simulation until Ctrl-C or --count.

    With --camera-http PORT a camera over the station streams http://127.0.0.1:PORT/stream.mjpg:
    each parcel slides in with a label carrying its code (blank or torn on a no-read parcel).

    Example: dockscan sim station --scale-link /tmp/dock1-scale --scanner-link /tmp/dock1-scan
    --protocol mt-sics --interval 1-3 --count 20

    Example (camera only): dockscan sim station --scale-link /tmp/dock3-scale --no-scanner
    --camera-http 8563
    """
    if no_scanner and scanner_link:
        raise click.UsageError("--no-scanner and --scanner-link exclude each other")
    if not no_scanner and not scanner_link:
        raise click.UsageError("give --scanner-link, or --no-scanner with --camera-http")
    if no_scanner and camera_port is None:
        raise click.UsageError("--no-scanner needs --camera-http (a station needs a reader)")
    try:
        script = read_script(script_file) if script_file else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--parcels") from None
    try:
        sim = SimulatedStation.on_links(
            scale_link,
            scanner_link,
            protocol=protocol,
            terminator=terminator,
            camera_port=camera_port,
            camera_fps=camera_fps,
            seed=seed,
            timing=StationTiming(interval=interval),
            mix=StationMix(no_read=no_read, no_weight=no_weight, invalid=invalid),
            count=count,
            script=script,
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve the camera on port {camera_port}: {exc}"
        ) from None
    stop = catch_stop_signals()
    try:
        sim.start()
    except OSError as exc:
        sim.stop()
        raise click.ClickException(f"cannot create the links: {exc.strerror or exc}") from None
    readers = [f"scanner {scanner_link}"] if scanner_link else []
    readers += [f"camera {sim.camera.url}"] if sim.camera else []
    click.echo(f"station: scale {scale_link}, {', '.join(readers)}; Ctrl-C to stop", err=True)
    try:
        run_until_signal(stop, sim.done)
    finally:
        sim.stop()
    truth = sim.truth()
    weighed = sum(p.kg is not None for p in truth)
    scanned = sum(p.scanned for p in truth)
    click.echo(f"{len(truth)} parcels: {weighed} weighed, {scanned} scanned", err=True)
