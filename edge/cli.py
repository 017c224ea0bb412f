"""`dockscan edge`: run a station's edge agent."""

import click


@click.group("edge", context_settings={"help_option_names": ["-h", "--help"]})
def edge() -> None:
    """Edge agent commands (one agent per dock station).

    Example: dockscan edge run -c config/demo.toml --station dock01
    """
