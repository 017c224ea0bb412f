"""Camera simulator: labelled parcels crossing a belt, as frames, video or an MJPEG stream."""

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from firmware_sim.labels import LabelCode, random_label_codes, render_label

logger = logging.getLogger(__name__)


@dataclass
class Shot:
    """One rendered frame and the codes fully visible in it (ground truth)."""

    index: int
    image: np.ndarray = field(repr=False)
    truth: list[LabelCode]
    parcel: int | None


@dataclass
class ParcelFace:
    """A parcel's rendered top face (BGR + mask) and how it is placed and degraded."""

    face: np.ndarray
    mask: np.ndarray
    code_quads: list[np.ndarray]  # each code's corners in face pixels, 4x2
    codes: list[LabelCode]
    angle: float
    warp: np.ndarray  # perspective jitter of the face, 3x3
    y: float
    blur: float
    noise: float
    jpeg: int
    light: float
    motion_px: float = 0.0  # length of the motion-blur streak along the belt, pixels


class CameraScene:
    """Deterministic scene: frame(i) is the same image for the same seed and index."""

    def __init__(
        self,
        seed: int = 0,
        width: int = 1920,
        height: int = 1080,
        parcel_frames: int = 12,
        gap_frames: int = 3,
        max_tilt_deg: float = 40.0,
        module_px: int = 4,
        motion_blur_px: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.seed, self.width, self.height = seed, width, height
        self.parcel_frames, self.gap_frames = parcel_frames, gap_frames
        self.max_tilt_deg, self.module_px = max_tilt_deg, module_px
        self.motion_blur_px = motion_blur_px  # (least, most) streak per parcel; (0, 0) is off
        rng = np.random.default_rng(seed)
        belt = rng.normal(95, 6, (height // 8, width // 8)).astype(np.float32)
        belt = cv2.resize(belt, (width, height), interpolation=cv2.INTER_LINEAR)
        belt[:, :: max(1, width // 24)] -= 25  # belt seams
        self.belt = cv2.cvtColor(np.clip(belt, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        self._shade = ((xx / width - 0.5) ** 2 + (yy / height - 0.5) ** 2).astype(np.float32)
        noise = rng.standard_normal((3, height, width, 3), np.float32) * 16
        self._noise = list(noise.astype(np.int16))  # a small bank of sensor-noise fields
        self._cache: dict[int, ParcelFace] = {}

    @property
    def period(self) -> int:
        """Frames from one parcel's entry to the next parcel's entry."""
        return self.parcel_frames + self.gap_frames

    def parcel_codes(self, number: int) -> list[LabelCode]:
        """Return every code on parcel `number`'s label (visible or not)."""
        return list(self._parcel(number).codes)

    def _parcel(self, number: int) -> ParcelFace:
        """Build (and cache) parcel number `number`."""
        if number in self._cache:
            return self._cache[number]
        rng = random.Random(self.seed * 1_000_003 + number)
        parcel = self.make_parcel(rng, random_label_codes(rng))
        if len(self._cache) > 8:
            self._cache.pop(next(iter(self._cache)))
        self._cache[number] = parcel
        return parcel

    def make_parcel(self, rng: random.Random, codes: list[LabelCode]) -> ParcelFace:
        """Render a parcel whose label carries `codes`; pose and degradations come from rng."""
        label, boxes = render_label(codes, self.module_px)
        lh, lw = label.shape
        fw, fh = int(lw * rng.uniform(1.25, 1.5)), int(lh * rng.uniform(1.2, 1.4))
        colour = (rng.randint(60, 90), rng.randint(110, 140), rng.randint(150, 190))
        face = np.empty((fh, fw, 3), np.uint8)
        face[:] = colour
        x0, y0 = rng.randint(10, fw - lw - 10), rng.randint(10, fh - lh - 10)
        face[y0 : y0 + lh, x0 : x0 + lw] = label[:, :, None]
        quads = [
            np.float32(
                [
                    [x0 + x, y0 + y],
                    [x0 + x + w, y0 + y],
                    [x0 + x + w, y0 + y + h],
                    [x0 + x, y0 + y + h],
                ]
            )
            for x, y, w, h in boxes
        ]
        corners = np.float32([[0, 0], [fw, 0], [fw, fh], [0, fh]])
        jitter = np.float32(
            [[rng.uniform(-1, 1) * fw * 0.04, rng.uniform(-1, 1) * fh * 0.04] for _ in range(4)]
        )
        return ParcelFace(
            face=face,
            mask=np.full((fh, fw), 255, np.uint8),
            code_quads=quads,
            codes=codes,
            angle=rng.uniform(-self.max_tilt_deg, self.max_tilt_deg),
            warp=cv2.getPerspectiveTransform(corners, corners + jitter),
            y=rng.uniform(0.35, 0.65) * self.height,
            blur=rng.choice([0.0, 0.6, 1.0]),
            noise=rng.uniform(2.0, 6.0),
            jpeg=rng.randint(70, 92),
            light=rng.uniform(0.3, 0.7),
            motion_px=rng.uniform(*self.motion_blur_px) if any(self.motion_blur_px) else 0.0,
        )

    def frame(self, index: int) -> Shot:
        """Render frame `index`: belt, the parcel passing at that moment, camera degradations."""
        number, phase = divmod(index, self.period)
        image, truth = self.belt.copy(), []
        parcel = self._parcel(number)
        if phase < self.parcel_frames:
            travel = self.width + parcel.face.shape[1]
            cx = -parcel.face.shape[1] / 2 + travel * (phase + 0.5) / self.parcel_frames
            image, truth = self.compose(parcel, cx)
        return Shot(index, self.degrade(image, parcel, index), truth, number if truth else None)

    def compose(self, parcel: ParcelFace, cx: float) -> tuple[np.ndarray, list[LabelCode]]:
        """Draw the belt with `parcel` centred at x = cx; return it and the codes fully in view."""
        image = self.belt.copy()
        fh, fw = parcel.face.shape[:2]
        turn = cv2.getRotationMatrix2D((fw / 2, fh / 2), parcel.angle, 1.0)
        move = np.vstack([turn, [0, 0, 1]])
        move[0, 2] += cx - fw / 2
        move[1, 2] += parcel.y - fh / 2
        full = move @ parcel.warp
        size = (self.width, self.height)
        face = cv2.warpPerspective(parcel.face, full, size, flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(parcel.mask, full, size, flags=cv2.INTER_NEAREST)
        np.copyto(image, face, where=mask[:, :, None] > 0)
        truth = [
            code
            for code, quad in zip(parcel.codes, parcel.code_quads, strict=True)
            if self._inside(cv2.perspectiveTransform(quad[None], full)[0])
        ]
        return image, truth

    def jpeg(self, index: int) -> bytes:
        """Return frame `index` encoded as JPEG (what the MJPEG stream sends)."""
        image = self.frame(index).image
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()

    def _inside(self, quad: np.ndarray, margin: int = 8) -> bool:
        """Return whether all corners lie inside the frame, `margin` pixels from the edge."""
        xs, ys = quad[:, 0], quad[:, 1]
        return bool(
            (xs >= margin).all()
            and (xs < self.width - margin).all()
            and (ys >= margin).all()
            and (ys < self.height - margin).all()
        )

    def degrade(
        self, image: np.ndarray, parcel: ParcelFace, index: int, jpeg: bool = True
    ) -> np.ndarray:
        """Apply blur, uneven light, sensor noise and (unless `jpeg` is False) JPEG artefacts."""
        if parcel.blur:
            image = cv2.GaussianBlur(image, (0, 0), parcel.blur)
        if parcel.motion_px:
            # the belt's speed and the exposure wobble: each frame's streak varies around the
            # parcel's own
            wobble = np.random.default_rng((self.seed, index)).uniform(0.6, 1.4)
            if parcel.motion_px * wobble >= 1.5:
                image = motion_blur(image, parcel.motion_px * wobble)
        gain = cv2.convertScaleAbs(self._shade, alpha=-parcel.light * 2.0 * 128, beta=1.15 * 128)
        image = cv2.multiply(image, cv2.merge([gain, gain, gain]), scale=1 / 128)
        noise = self._noise[index % len(self._noise)]  # sigma 16, scaled to the parcel's level
        image = cv2.addWeighted(image, 1.0, noise, parcel.noise / 16, 0, dtype=cv2.CV_8U)
        if not jpeg:
            return image
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, parcel.jpeg])
        return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image


def motion_blur(image: np.ndarray, length_px: float) -> np.ndarray:
    """Smear an image along x (the belt's direction) over `length_px` pixels, as a slow shutter."""
    size = max(1, int(np.ceil(length_px)))
    kernel = np.ones((1, size), np.float32)
    if size > length_px:  # a fractional streak: the last tap weighs the remainder
        kernel[0, -1] = length_px - (size - 1)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def _truth_line(shot: Shot, name: str) -> str:
    """Return one JSON line of ground truth for a frame."""
    codes = [{"text": c.text, "symbology": c.symbology} for c in shot.truth]
    return json.dumps({"frame": shot.index, "file": name, "parcel": shot.parcel, "codes": codes})


def write_folder(scene: CameraScene, out_dir: Path, frames: int, start: int = 0) -> Path:
    """Write frames as JPEG files plus truth.jsonl into a folder; return the truth file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    truth = out_dir / "truth.jsonl"
    with truth.open("w", encoding="utf-8") as fh:
        for i in range(start, start + frames):
            shot = scene.frame(i)
            name = f"frame_{i:06d}.jpg"
            cv2.imwrite(str(out_dir / name), shot.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            fh.write(_truth_line(shot, name) + "\n")
    return truth


def write_video(scene: CameraScene, path: Path, frames: int, fps: float = 10.0) -> Path:
    """Write frames as an MJPG AVI plus <name>.truth.jsonl; return the truth file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter.fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(path), fourcc, fps, (scene.width, scene.height))
    if not writer.isOpened():
        raise OSError(f"cannot write video {path} (OpenCV has no MJPG writer?)")
    truth = path.with_suffix(".truth.jsonl")
    try:
        with truth.open("w", encoding="utf-8") as fh:
            for i in range(frames):
                shot = scene.frame(i)
                writer.write(shot.image)
                fh.write(_truth_line(shot, f"{path.name}#{i}") + "\n")
    finally:
        writer.release()
    return truth


class JpegFrames(Protocol):
    """Anything that renders numbered frames as JPEG bytes (a CameraScene, a station camera)."""

    def jpeg(self, index: int) -> bytes:
        """Return frame `index` as JPEG."""
        ...


class MjpegServer:
    """Serve frames as an MJPEG stream (multipart/x-mixed-replace) that OpenCV can open."""

    BOUNDARY = "dockscanframe"

    def __init__(self, scene: JpegFrames, port: int, fps: float = 10.0, host: str = "127.0.0.1"):
        self.scene, self.fps = scene, fps
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._jpeg = b""
        self._seq = 0
        self._started = False
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/stream.mjpg"
        self._threads = [
            threading.Thread(target=self._produce, name="sim-camera-frames", daemon=True),
            threading.Thread(target=self.httpd.serve_forever, name="sim-camera-http", daemon=True),
        ]

    def start(self) -> "MjpegServer":
        """Start rendering and serving."""
        self._started = True
        for thread in self._threads:
            thread.start()
        logger.info("camera simulator streaming at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and join the threads (safe if never started)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._started:
            self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads if self._started else []:
            thread.join(timeout=5)

    def _produce(self) -> None:
        """Render frames at the configured rate into the shared latest JPEG."""
        index, due = 0, time.monotonic()
        while not self._stop.is_set():
            jpeg = self.scene.jpeg(index)
            with self._cond:
                self._jpeg, self._seq = jpeg, self._seq + 1
                self._cond.notify_all()
            index += 1
            due = max(due + 1.0 / self.fps, time.monotonic())  # fps may change while running
            self._stop.wait(due - time.monotonic())

    def next_jpeg(self, seen: int) -> tuple[bytes, int]:
        """Wait for a frame newer than `seen`; return (jpeg, its number), or b"" once stopped."""
        with self._cond:
            while self._seq == seen or not self._jpeg:
                if self._stop.is_set():
                    return b"", seen
                self._cond.wait(1.0)
            if self._stop.is_set():
                return b"", seen
            return self._jpeg, self._seq

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """Build the request handler class bound to this server."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                logger.debug("http: " + format, *args)

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header(
                    "Content-Type", f"multipart/x-mixed-replace; boundary={server.BOUNDARY}"
                )
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                seen = 0
                try:
                    while True:
                        jpeg, seen = server.next_jpeg(seen)
                        if not jpeg:
                            return
                        head = (
                            f"--{server.BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n"
                        )
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler
