"""CLI command for the camera simulator."""

import click


@click.command("camera")
def camera() -> None:
    """Render simulated camera frames (placeholder)."""
    raise click.ClickException("not built yet")
