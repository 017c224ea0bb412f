"""Frame sources for cameras: V4L2 device, RTSP/HTTP URL, video file, or a folder of images."""

import logging
import os
import re
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import cv2
import numpy as np

from dockscan.errors import DeviceError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
URL_SCHEMES = {"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"}


class FrameSource(Protocol):
    """An opened source of frames."""

    live: bool  # True: frames arrive at the camera's pace; False: we pace replay ourselves
    description: str

    def read(self) -> np.ndarray | None:
        """Return the next frame (BGR or gray), or None when the source ended or failed."""

    def close(self) -> None:
        """Release the source."""


def video_device(spec: str) -> str | None:
    """Return the /dev/videoN path a source names (an index, the node or a udev symlink to it)."""
    if spec.isdigit():
        return f"/dev/video{spec}"
    if urlparse(spec).scheme.lower() in URL_SCHEMES:
        return None
    path = os.path.realpath(spec) if os.path.islink(spec) else spec
    return path if re.fullmatch(r"/dev/video\d+", path) else None


def source_kind(spec: str) -> str:
    """Classify a configured source: device, url, folder or file."""
    if video_device(spec):
        return "device"
    if urlparse(spec).scheme.lower() in URL_SCHEMES:
        return "url"
    if os.path.isdir(spec):
        return "folder"
    return "file"


class ImageFolderSource:
    """Replay the images of a folder in name order; unreadable files are skipped and counted."""

    live = False

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise DeviceError(f"no images in folder {folder}")
        self.description = f"folder {folder} ({len(self.paths)} images)"
        self.corrupt = 0
        self._next = 0
        self._good = 0

    def read(self) -> np.ndarray | None:
        """Return the next readable image, or None at the end of the folder."""
        while self._next < len(self.paths):
            path = self.paths[self._next]
            self._next += 1
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is not None:
                self._good += 1
                return frame
            self.corrupt += 1
            logger.warning("skipping unreadable image %s", path)
        if self._good == 0:
            raise DeviceError(
                f"no readable images in folder {self.folder} ({self.corrupt} corrupt)"
            )
        return None

    def close(self) -> None:
        """Nothing to release."""


class CaptureSource:
    """A cv2.VideoCapture: V4L2 device, network stream or video file."""

    def __init__(self, spec: str, timeout_s: float) -> None:
        kind = source_kind(spec)
        self.live = kind in ("device", "url")
        self.description = f"{kind} {spec}"
        timeouts = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(timeout_s * 1000),
        ]
        if kind == "device":
            path = video_device(spec) or spec
            if not os.path.exists(path):
                named = "" if path == spec else f" (from {spec})"
                raise DeviceError(f"no such video device {path}{named}")
            index = int(path.removeprefix("/dev/video"))
            self.cap = cv2.VideoCapture(index, cv2.CAP_V4L2, timeouts)
        elif kind == "file":
            if not os.path.isfile(spec):
                raise DeviceError(f"no such video file or folder {spec}")
            self.cap = cv2.VideoCapture(spec, cv2.CAP_FFMPEG)
        else:
            self.cap = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, timeouts)
        if not self.cap.isOpened():
            self.cap.release()
            raise DeviceError(f"cannot open {self.description}")

    def read(self) -> np.ndarray | None:
        """Return the next frame, or None when the stream ended, failed or timed out."""
        ok, frame = self.cap.read()
        return frame if ok and frame is not None and frame.size else None

    def close(self) -> None:
        """Release the capture."""
        self.cap.release()


def open_source(spec: str, timeout_s: float = 5.0) -> FrameSource:
    """Open a configured camera source, or raise DeviceError with the reason."""
    if source_kind(spec) == "folder":
        return ImageFolderSource(spec)
    return CaptureSource(spec, timeout_s)
