"""CLI command for the camera simulator: frames to a folder, a video file, or an MJPEG stream."""

from pathlib import Path

import click

from firmware_sim.camera import CameraScene, MjpegServer, write_folder, write_video
from firmware_sim.serial_cli import catch_stop_signals, run_until_signal


@click.command("camera", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(), help="Folder of JPEG frames, or a FILE.avi video.")
@click.option("--http", "http_port", type=int, help="Serve an MJPEG stream on this port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --http.")
@click.option("--frames", type=click.IntRange(1), default=150, show_default=True)
@click.option("--fps", type=click.FloatRange(0.1, 120), default=10.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--size", default="1920x1080", show_default=True, help="Frame size WxH.")
@click.option("--max-tilt", type=click.FloatRange(0, 90), default=40.0, show_default=True)
@click.option(
    "--motion-blur",
    type=click.FloatRange(0, 200),
    default=0.0,
    show_default=True,
    help="Longest motion-blur streak in pixels; each parcel gets 0 up to this.",
)
def camera(
    out: str | None,
    http_port: int | None,
    host: str,
    frames: int,
    fps: float,
    seed: int,
    size: str,
    max_tilt: float,
    motion_blur: float,
) -> None:
    """Render labelled parcels crossing a belt as a camera sees them, with ground truth.

    --out DIR writes frame_NNNNNN.jpg and truth.jsonl; --out FILE.avi writes an MJPG video
    and FILE.truth.jsonl; --http PORT serves http://HOST:PORT/stream.mjpg until Ctrl-C.

    Example: dockscan sim camera --http 8554 --fps 10
    """
    if (out is None) == (http_port is None):
        raise click.UsageError("give exactly one of --out or --http")
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{size!r} is not WxH", param_hint="--size") from None
    module_px = max(2, round(4 * height / 1080))  # labels keep their size relative to the frame
    scene = CameraScene(
        seed,
        width,
        height,
        max_tilt_deg=max_tilt,
        module_px=module_px,
        motion_blur_px=(0.0, motion_blur),
    )
    if http_port is not None:
        stop = catch_stop_signals()
        try:
            server = MjpegServer(scene, http_port, fps=fps, host=host).start()
        except OSError as exc:
            raise click.ClickException(f"cannot serve on {host}:{http_port}: {exc}") from None
        click.echo(f"streaming {server.url} (Ctrl-C stops)")
        try:
            run_until_signal(stop)
        finally:
            server.stop()
        return
    path = Path(out or "")
    try:
        if path.suffix.lower() == ".avi":
            truth = write_video(scene, path, frames, fps)
        else:
            truth = write_folder(scene, path, frames)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {frames} frames to {path}; ground truth in {truth}")
