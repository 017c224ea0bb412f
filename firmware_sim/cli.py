"""`dockscan sim`: device simulators for tests, demos and bench work."""

import click

from firmware_sim.camera_cli import camera
from firmware_sim.serial_cli import scale, scanner, station


@click.group("sim", context_settings={"help_option_names": ["-h", "--help"]})
def sim() -> None:
    """Simulated scales, scanners, cameras and whole stations.

    Example: dockscan sim scale --protocol mt-sics --link /tmp/dock1-scale
    """


for command in (scale, scanner, station, camera):
    sim.add_command(command)
