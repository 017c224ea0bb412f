"""`dockscan decode`: run the station's decoding pipeline on image files."""

import json
import sys
from pathlib import Path

import click
import cv2
import numpy as np

from dockscan.cli import handle_errors
from dockscan.config import CameraConfig, load_config
from dockscan.errors import DeviceError
from edge.vision import ALL_SYMBOLOGIES, Code, Decoder, DecoderSettings


def read_image(path: str) -> np.ndarray:
    """Read an image file as grayscale, or raise DeviceError saying why it cannot be read."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise DeviceError(f"cannot read file: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise DeviceError("not a readable image")
    return image


def visible(text: str) -> str:
    """Show control characters such as GS (\\x1d) as escapes."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def camera_config(config_path: str, camera_id: str) -> CameraConfig:
    """Find a camera by id in a site config."""
    site = load_config(config_path)
    for station in site.stations:
        for device in station.devices:
            if isinstance(device, CameraConfig) and device.id == camera_id:
                return device
    raise click.BadParameter(f"no camera {camera_id!r} in {config_path}", param_hint="--camera")


def _code_json(code: Code) -> dict:
    """Return a code as a JSON-ready dict."""
    return {
        "text": code.text,
        "symbology": code.symbology,
        "position": [list(p) for p in code.position],
    }


@click.command("decode", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--symbology",
    "symbologies",
    multiple=True,
    type=click.Choice(ALL_SYMBOLOGIES),
    help="Read only these (repeatable; default: all).",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(["zxing", "pyzbar"]),
    help="Decoder chain in order (repeatable; default: zxing).",
)
@click.option("--no-tilt", is_flag=True, help="Skip the search for tilted 1D labels.")
@click.option(
    "--no-ean-fit",
    is_flag=True,
    help="Skip the last attempt on unread close-ups: fitting a blurred EAN-13 (seconds each).",
)
@click.option("-c", "--config", "config_path", help="Site config holding --camera.")
@click.option("--camera", "camera_id", help="Use this camera's decoder settings from --config.")
@handle_errors
def decode(
    images: tuple[str, ...],
    as_json: bool,
    symbologies: tuple[str, ...],
    backends: tuple[str, ...],
    no_tilt: bool,
    no_ean_fit: bool,
    config_path: str | None,
    camera_id: str | None,
) -> None:
    """Decode barcodes in image files, one line per image (raw text, GS shown as \\x1d).

    An unreadable image gives an error line for that image and exit status 1 at the end.

    Example: dockscan decode --json --symbology gs1-128 label.png
    """
    if camera_id:
        if not config_path:
            raise click.UsageError("--camera needs -c/--config")
        decoder = Decoder.from_camera(camera_config(config_path, camera_id))
    else:
        settings = DecoderSettings(
            symbologies=symbologies or ALL_SYMBOLOGIES,
            backends=backends or ("zxing",),
            tilt=not no_tilt,
            ean_fit=not no_ean_fit,
        )
        decoder = Decoder(settings)
    failed = 0
    for path in images:
        try:
            codes = decoder.decode(read_image(path))
        except DeviceError as exc:
            failed += 1
            line = (
                json.dumps({"path": path, "error": str(exc)})
                if as_json
                else f"{path}\terror: {exc}"
            )
            click.echo(line)
            continue
        if as_json:
            click.echo(json.dumps({"path": path, "codes": [_code_json(c) for c in codes]}))
        else:
            found = "; ".join(f"{c.symbology} {visible(c.text)}" for c in codes) or "no code"
            click.echo(f"{Path(path)}\t{found}")
    if failed:
        click.echo(f"error: {failed} of {len(images)} images unreadable", err=True)
        sys.exit(1)
