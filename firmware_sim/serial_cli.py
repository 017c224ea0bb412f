"""CLI commands for the serial simulators: scale, scanner and a coordinated station."""

import click


@click.command("scale")
def scale() -> None:
    """Run a simulated scale on a pseudo-terminal (placeholder)."""
    raise click.ClickException("not built yet")


@click.command("scanner")
def scanner() -> None:
    """Run a simulated hand scanner on a pseudo-terminal (placeholder)."""
    raise click.ClickException("not built yet")


@click.command("station")
def station() -> None:
    """Run a coordinated scale + scanner simulation for one station (placeholder)."""
    raise click.ClickException("not built yet")
