"""Doctor checks for a station's own hardware: serial ports, cameras and the outbox disk.

Plugged into `dockscan doctor` through the `dockscan.doctor` entry point, so the core never
imports the edge. Each check opens the device the way the agent does, with a time limit.
"""

import errno
import os
import stat
import threading
import time

import cv2
import serial

from dockscan.config import CameraConfig, ScaleConfig, ScannerConfig, SiteConfig
from dockscan.doctor.checks import group_name, space_check, user_name
from dockscan.doctor.model import Check, Context, Result, fail, ok, warn
from dockscan.errors import DeviceError
from edge.agent import outbox_path
from edge.vision import Decoder
from edge.vision.sources import open_source

MISSING = {errno.ENOENT, errno.ENODEV, errno.ENXIO}
DENIED = {errno.EACCES, errno.EPERM}
BUSY = {errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK}
EVENT_BYTES = 1000  # a parcel event row, about 1 KB, for the estimate without outbox_max_mb


def _settings(dev: ScaleConfig | ScannerConfig) -> dict:
    """Return the pyserial settings the agent opens this device with."""
    if isinstance(dev, ScaleConfig):
        return dict(
            baudrate=dev.baudrate, bytesize=dev.bytesize, parity=dev.parity, stopbits=dev.stopbits
        )
    return dict(baudrate=dev.baudrate)


def _describe(path: str) -> str:
    """Return owner, group and mode of a device path, e.g. `root:dialout crw-rw----`."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{user_name(st.st_uid)}:{group_name(st.st_gid)} {stat.filemode(st.st_mode)}"


def serial_check(dev: ScaleConfig | ScannerConfig) -> Result:
    """Open the port with the configured settings (exclusively when it is a local path)."""
    name, port = f"serial {dev.id}", dev.port
    settings = _settings(dev)
    line = f"{settings['baudrate']} baud"
    if isinstance(dev, ScaleConfig):
        line += f" {dev.bytesize}{dev.parity}{dev.stopbits}"
    is_path = "://" not in port
    try:
        handle = serial.serial_for_url(port, do_not_open=True, timeout=0.1, **settings)
        if is_path:
            handle.exclusive = True  # a lock held by another program is "in use"
        handle.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        return _serial_failure(name, port, exc, is_path)
    try:
        handle.reset_input_buffer()
    finally:
        handle.close()
    return ok(name, f"{port}: opened read/write at {line}")


def _serial_failure(name: str, port: str, exc: Exception, is_path: bool) -> Result:
    """Turn a failed open into missing / permission / in use, each with its fix."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in DENIED:
        return _denied(name, port, is_path)
    if is_path and (code in MISSING or not os.path.exists(port)):
        link = " (dangling link)" if os.path.islink(port) else ""
        return fail(
            name,
            f"{port}: missing{link}",
            f"plug the device in and check the path: ls -l {os.path.dirname(port) or '.'}",
        )
    if code in BUSY or "exclusively lock" in text:
        return fail(
            name,
            f"{port}: in use by another program",
            f"stop the other program (fuser -v {os.path.realpath(port)}); only one "
            "agent may open a port",
        )
    return fail(name, f"{port}: cannot open: {text}", "check the port path or URL and the cable")


def _denied(name: str, port: str, is_path: bool) -> Result:
    """Explain a permission failure: whose device it is, and which group to join."""
    user = user_name()
    target = os.path.realpath(port) if is_path else port
    try:
        st = os.stat(target)
    except OSError:
        st = None
    detail = f"{port}: permission denied for user {user}"
    if st is None:
        return fail(name, detail, f"check the permissions of {port} and its folders")
    detail += f" ({target} is {_describe(target)})"
    group = group_name(st.st_gid)
    fix = f"add the user to {group}: usermod -aG {group} {user} (then log in again)"
    if st.st_mode & 0o060 != 0o060:  # the group may not read and write: joining it won't help
        fix = f'let group {group} read and write it (udev rule MODE="0660"), then {fix}'
    return fail(name, detail, fix)


def _grab(cfg: CameraConfig, budget_s: float, out: dict) -> None:
    """Open the source and decode frames until a code shows or the budget is spent."""
    started = time.monotonic()
    source = open_source(cfg.source, timeout_s=budget_s)
    out["opened"] = source.description
    decoder = Decoder.from_camera(cfg)
    try:
        while time.monotonic() - started < budget_s:
            frame = source.read()
            if frame is None:
                break
            out["frames"] = out.get("frames", 0) + 1
            out["size"] = f"{frame.shape[1]}x{frame.shape[0]}"
            codes = decoder.decode(frame)
            if codes:
                out["codes"] = [(c.symbology, c.text) for c in codes]
                return
    finally:
        source.close()


def camera_check(cfg: CameraConfig, timeout_s: float) -> Result:
    """Open the camera with the edge's source and decoder; want one decoded code."""
    name, src = f"camera {cfg.id}", cfg.source
    out: dict = {}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _grab(cfg, timeout_s, out)
        except (DeviceError, cv2.error, OSError, ValueError) as exc:
            errors.append(exc)

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # the row says why, not ffmpeg
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    thread = threading.Thread(target=run, name=f"doctor-{cfg.id}", daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout_s * 2 + 2)
    fix = f"check camera.source {src}: is the camera powered, on the network, the URL right?"
    if errors:
        reason = str(errors[0])
        if time.monotonic() - started >= timeout_s * 0.9:  # the open timed out
            reason = f"{reason}: no answer within {timeout_s:g} s"
        return fail(name, reason if src in reason else f"{src}: {reason}", fix)
    if "opened" not in out:
        return fail(name, f"{src}: no answer within {timeout_s * 2 + 2:g} s", fix)
    frames = out.get("frames", 0)
    if not frames:
        return fail(name, f"{src}: opened but sent no frame within {timeout_s:g} s", fix)
    took = time.monotonic() - started
    if "codes" not in out:
        return warn(
            name,
            f"{src}: opened, no code in view ({frames} frames of {out['size']} in {took:.1f} s)",
            "hold a label under the camera; check roi, downscale and symbologies",
        )
    codes = ", ".join(f"{sym} {_printable(text)}" for sym, text in out["codes"][:3])
    return ok(name, f"{src}: {out['size']}, decoded {codes} (frame {frames}, {took:.1f} s)")


def _printable(text: str, limit: int = 48) -> str:
    """Return a code's text for one table cell: control characters (GS1's GS) escaped."""
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def outbox_check(cfg: SiteConfig, station_id: str) -> Result:
    """Check the outbox folder: writable, with room for the configured size cap."""
    st = cfg.station(station_id)
    path = str(outbox_path(cfg, station_id))
    key = f"stations[{station_id}].outbox_max_mb"
    if st.outbox_max_mb:
        return space_check("outbox disk", path, st.outbox_max_mb, key)
    guess_mb = st.outbox_max_events * EVENT_BYTES / 1e6
    why = f"outbox_max_events = {st.outbox_max_events:,} needs about {guess_mb:,.0f} MB"
    return space_check("outbox disk", path, 0, key, estimate=(guess_mb, why))


def station_checks(ctx: Context) -> list[Check]:
    """Return the device and outbox checks of the station (none for a gateway host)."""
    st = ctx.station
    if st is None:
        return []
    plan = [Check("outbox disk", lambda: outbox_check(ctx.cfg, st.id))]
    for dev in st.devices:
        if isinstance(dev, CameraConfig):
            plan.append(Check(f"camera {dev.id}", lambda d=dev: camera_check(d, ctx.timeout_s)))
        else:
            plan.append(Check(f"serial {dev.id}", lambda d=dev: serial_check(d)))
    return plan
