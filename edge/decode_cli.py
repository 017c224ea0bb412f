"""`dockscan decode`: run the station's decoding pipeline on image files."""

import click


@click.command("decode", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, required=True)
def decode(images: tuple[str, ...]) -> None:
    """Decode barcodes in image files, one line per image.

    Example: dockscan decode --json label.png
    """
    raise click.ClickException("not built yet")
