"""`dockscan gateway`: run the site gateway (ingest, store, web UI)."""

import click


@click.group("gateway", context_settings={"help_option_names": ["-h", "--help"]})
def gateway() -> None:
    """Gateway commands.

    Example: dockscan gateway run -c config/demo.toml
    """
