"""The camera over a simulated station: the parcel on the scale and its label, as MJPEG."""

import logging
import random
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from firmware_sim.camera import CameraScene, MjpegServer, ParcelFace
from firmware_sim.labels import LabelCode

logger = logging.getLogger(__name__)

LABEL_KINDS = ("readable", "blank", "damaged")


@dataclass
class _Showing:
    """The parcel in view: its number, rendered face, resting x and arrival time."""

    number: int
    face: ParcelFace
    rest_x: float
    since: float


class StationCamera:
    """A fixed camera over one station: a parcel slides in, rests while weighed, is lifted off.

    Frames are rendered only when the picture changes (the parcel moving in, a new parcel, an
    empty belt); while it rests the same JPEG is sent again, so an idle station costs little.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        fps: float = 6.0,
        host: str = "127.0.0.1",
        seed: int | None = None,
        size: tuple[int, int] = (1920, 1080),
        max_tilt_deg: float = 30.0,
        entry_s: float = 0.4,
    ) -> None:
        width, height = size
        module_px = max(2, round(4 * height / 1080))
        self.scene = CameraScene(seed or 0, width, height, max_tilt_deg=max_tilt_deg,
                                 module_px=module_px)  # fmt: skip
        self.entry_s = entry_s
        self.rendered = 0  # frames actually rendered; the others reuse the last JPEG
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._showing: _Showing | None = None
        self._look: ParcelFace | None = None  # light, blur and noise of the last parcel
        self._count = 0
        self._key: tuple[int, int] | None = None
        self._jpeg = b""
        self.server = MjpegServer(self, port, fps=fps, host=host)
        self.url = self.server.url

    def start(self) -> "StationCamera":
        """Start rendering and serving the stream."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop the stream and join its threads."""
        self.server.stop()

    def show(self, text: str, symbology: str, readable: bool = True) -> str:
        """A parcel arrives with a label carrying this code; return the label kind shown.

        An unreadable label (a no-read parcel) is blank or damaged: its code cannot be decoded.
        """
        face = self.scene.make_parcel(self._rng, [LabelCode(text, symbology)])
        kind = "readable" if readable else self._rng.choice(LABEL_KINDS[1:])
        if not readable:
            spoil_label(face, kind, self._rng)
        rest_x = self.scene.width * self._rng.uniform(0.45, 0.55)
        with self._lock:
            self._showing = _Showing(self._count, face, rest_x, time.monotonic())
            self._count += 1
        return kind

    def clear(self) -> None:
        """The parcel is lifted off: the belt is empty."""
        with self._lock:
            self._showing = None

    def jpeg(self, index: int) -> bytes:
        """Return the current view as JPEG, rendering only when it changed."""
        with self._lock:
            showing = self._showing
        if showing is None:
            key, cx = (-1, 0), 0.0
        else:
            cx = self._position(showing)
            key = (showing.number, round(cx))
        if key == self._key:
            return self._jpeg
        if showing is None:
            image, look = self.scene.belt, self._look
        else:
            image, _visible = self.scene.compose(showing.face, cx)
            look = self._look = showing.face
        quality = 85
        if look is not None:
            image = self.scene.degrade(image, look, index, jpeg=False)
            quality = look.jpeg
        self._jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        self._key = key
        self.rendered += 1
        return self._jpeg

    def _position(self, showing: _Showing) -> float:
        """Return the parcel's x: sliding in from the left (eased), then resting."""
        progress = min(1.0, (time.monotonic() - showing.since) / self.entry_s)
        eased = 1.0 - (1.0 - progress) ** 2
        start = -showing.face.face.shape[1] / 2
        return start + (showing.rest_x - start) * eased


def spoil_label(face: ParcelFace, kind: str, rng: random.Random) -> None:
    """Make every code on a face unreadable: `blank` (no print) or `damaged` (torn away)."""
    card = tuple(int(v) for v in face.face[2, 2])
    for quad in face.code_quads:
        x0, y0 = (int(v) for v in quad[0])
        x1, y1 = (int(v) for v in quad[2])
        if kind == "blank":
            face.face[y0:y1, x0:x1] = 250  # label paper
            continue
        tear = x0 + int((x1 - x0) * rng.uniform(0.35, 0.6))  # the label's right part is gone
        jag = [(tear + rng.randint(-25, 25), y) for y in range(y0 - 10, y1 + 20, 12)]
        polygon = np.int32([*jag, (x1 + 10, y1 + 20), (x1 + 10, y0 - 10)])
        cv2.fillPoly(face.face, [polygon], card)
    face.codes, face.code_quads = [], []
