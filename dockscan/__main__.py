"""Run the dockscan CLI with ``python -m dockscan``."""

from dockscan.cli import cli

cli()
