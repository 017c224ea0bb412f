"""The station decoding pipeline: grayscale, ROI, downscale, backend chain, tilted labels."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from dockscan.config import CameraConfig
from edge.vision.backends import BARS, Backend, Code, build_backends
from edge.vision.localise import Region, derotate, find_linear_regions, map_points

logger = logging.getLogger(__name__)

ALL_SYMBOLOGIES = ("code128", "gs1-128", "ean13", "itf14", "itf", "code39", "qrcode")
ALL_SYMBOLOGIES += ("datamatrix", "pdf417")


@dataclass(frozen=True)
class DecoderSettings:
    """What the pipeline reads and how hard it tries."""

    symbologies: tuple[str, ...] = ALL_SYMBOLOGIES
    backends: tuple[str, ...] = ("zxing",)
    tilt: bool = True
    roi: tuple[int, int, int, int] | None = None
    downscale: float = 1.0
    max_regions: int = 4
    turn_whole_image: bool = True  # when a tilted bar region stays unread, turn the image upright
    close_up_px: int = 800  # images this small get a second, slower pass when nothing was read


class Decoder:
    """Decode every code in a frame with the configured backends; recover tilted 1D labels."""

    def __init__(self, settings: DecoderSettings | None = None) -> None:
        self.settings = settings or DecoderSettings()
        self.has_bars = bool(BARS & set(self.settings.symbologies))
        # with tilt recovery the de-rotated crops cover 1D codes at any angle, 90° included
        self.backends: list[Backend] = build_backends(
            self.settings.backends,
            self.settings.symbologies,
            try_rotate=not (self.settings.tilt and self.has_bars),
        )
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    @classmethod
    def from_camera(cls, cfg: CameraConfig) -> "Decoder":
        """Build the decoder a camera's config asks for."""
        return cls(
            DecoderSettings(
                symbologies=tuple(cfg.symbologies),
                backends=tuple(cfg.backends),
                tilt=cfg.tilt,
                roi=cfg.roi,
                downscale=cfg.downscale,
            )
        )

    @staticmethod
    def gray(image: np.ndarray) -> np.ndarray:
        """Return a single-channel 8-bit view of an image."""
        if image.ndim == 3:
            code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            return cv2.cvtColor(image, code)
        return image

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """Apply grayscale, ROI and downscale; return (image, scale, x0, y0) to map back."""
        gray = self.gray(image)
        x0 = y0 = 0
        if self.settings.roi is not None:
            x0, y0, w, h = self.settings.roi
            gray = gray[y0 : y0 + h, x0 : x0 + w]
        scale = self.settings.downscale
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return gray, scale, x0, y0

    def decode(self, image: np.ndarray, prepared: bool = False) -> list[Code]:
        """Return every distinct code in the image, positions in original image pixels."""
        if prepared:
            gray, scale, x0, y0 = image, 1.0, 0, 0
        else:
            gray, scale, x0, y0 = self.prepare(image)
        if gray.size == 0:
            return []
        codes = self._decode_gray(gray)
        if scale == 1.0 and x0 == 0 and y0 == 0:
            return codes
        return [
            Code(
                c.text,
                c.symbology,
                tuple((int(x / scale) + x0, int(y / scale) + y0) for x, y in c.position),  # type: ignore[arg-type]
                c.backend,
            )
            for c in codes
        ]

    def _decode_gray(self, gray: np.ndarray) -> list[Code]:
        """Run the backend chain on the whole image, then on de-rotated label crops."""
        found: list[Code] = []
        for backend in self.backends:
            found = _merge(found, backend.read(gray))
            if found:
                break
        if self.settings.tilt and self.has_bars:
            found = self._tilted(gray, found)
        if not found and max(gray.shape) <= self.settings.close_up_px:
            found = self._second_effort(gray)
        return found

    def _tilted(self, gray: np.ndarray, found: list[Code]) -> list[Code]:
        """Decode de-rotated crops of bar-like regions that no code read so far covers."""
        missed: list[Region] = []
        for region in find_linear_regions(gray, self.settings.max_regions):
            if any(c.symbology in BARS and region.contains(*c.centre()) for c in found):
                continue
            crop, to_image = derotate(gray, region)
            hits = self._read_chain(crop, bars_only=True)
            found = _merge(found, [_to_image(c, to_image) for c in hits])
            if not hits:
                missed.append(region)
        turned = [r for r in missed if abs(r.angle_deg) > 3.0]  # bars not upright
        if not turned:
            return found
        if abs(turned[0].angle_deg) > 87.0:
            # bars lying flat: zxing-cpp's own 90° scan of the whole image
            return _merge(found, self._read_chain(gray, bars_only=True))
        if self.settings.turn_whole_image:
            # e.g. a PDF417 falls apart into several bar regions: turn the whole image upright
            h, w = gray.shape[:2]
            side = float(np.hypot(h, w))
            whole = Region(w / 2, h / 2, side, side, turned[0].angle_deg, 0.0)
            upright, to_image = derotate(gray, whole, margin=0.0, max_len=1200)
            hits = self._read_chain(upright, bars_only=True)
            found = _merge(found, [_to_image(c, to_image) for c in hits])
        return found

    def _read_chain(self, image: np.ndarray, bars_only: bool = False) -> list[Code]:
        """Return the first backend's codes that finds any."""
        for backend in self.backends:
            hits = backend.read(image, bars_only=bars_only)
            if hits:
                return hits
        return []

    def _second_effort(self, gray: np.ndarray) -> list[Code]:
        """Retry a small image: global threshold, local contrast, 2x upscale, sharpened upscale."""
        up = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        sharp = cv2.addWeighted(up, 2.0, cv2.GaussianBlur(up, (0, 0), 4), -1.0, 0)
        attempts = ((gray, True), (self._clahe.apply(gray), False), (up, True), (sharp, False))
        for image, global_threshold in attempts:
            for backend in self.backends:
                hits = backend.read(image, global_threshold=global_threshold)
                if hits:
                    if image is up or image is sharp:
                        return [_scaled(c, 0.5) for c in hits]
                    return hits
        return []


def _scaled(code: Code, factor: float) -> Code:
    """Scale a code's corner points."""
    quad = tuple((int(x * factor), int(y * factor)) for x, y in code.position)
    return Code(code.text, code.symbology, quad, code.backend)  # type: ignore[arg-type]


def _to_image(code: Code, affine: np.ndarray) -> Code:
    """Map a code found in a crop back to image coordinates."""
    quad = tuple(map_points(affine, list(code.position)))
    return Code(code.text, code.symbology, quad, code.backend)  # type: ignore[arg-type]


def _merge(found: Sequence[Code], new: Sequence[Code]) -> list[Code]:
    """Append codes not already present (same text and symbology)."""
    out = list(found)
    seen = {(c.text, c.symbology) for c in out}
    for code in new:
        if (code.text, code.symbology) not in seen:
            seen.add((code.text, code.symbology))
            out.append(code)
    return out
