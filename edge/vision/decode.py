"""The station decoding pipeline: grayscale, ROI, downscale, backend chain, tilted labels."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from dockscan.config import CameraConfig
from edge.vision.backends import BARS, Backend, Code, build_backends
from edge.vision.ean_read import read_blurred_ean
from edge.vision.effort import (
    WEAKLY_CHECKED,
    Votes,
    attempts,
    drop_overlaps,
    light_ends,
    one_linear,
    sharpened,
    tall,
)
from edge.vision.localise import Region, derotate, find_linear_regions, map_points

logger = logging.getLogger(__name__)

CROP_ZOOM = 2.0  # close-up crops are cut out at twice the size (cubic): thin bars survive
CROP_SHARPEN = 4.0  # unsharp-mask sigma for the first harder attempt on a close-up crop
WIDE_MARGIN = 0.6  # the second crop of a region reaches this far past its ends (split blobs)
EAN_FIT_REGIONS = 2  # bar regions (on separate scan lines) the EAN-13 fit tries
MIN_SPAN = 0.05  # an enhanced 1D read covering fewer rows than this share of its width is unsure
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
    close_up_px: int = 800  # images this small get slower, harder attempts where nothing reads
    whole_px: int = 960  # the whole-image pass runs on a copy this long; crops keep full detail
    confirm_weak: bool = True  # an EAN/ITF/Code 39 from an enhanced crop needs a second look
    ean_fit: bool = True  # unread close-ups: fit a blurred EAN-13 as the last attempt (ean_read)


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
                # A camera decodes every frame and a parcel passes in several: the fit's
                # seconds on an unread small frame would stall the stream for nothing.
                ean_fit=False,
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
        found = self._whole_image(gray)
        if self.settings.tilt and self.has_bars:
            found = self._tilted(gray, found)
        if not found and max(gray.shape) <= self.settings.close_up_px:
            found = self._second_effort(gray)
            if not found and "ean13" in self.settings.symbologies and self.settings.ean_fit:
                # last attempt: fit a blurred EAN-13 to scan lines (zxing-cpp needs edges)
                found = read_blurred_ean(gray, find_linear_regions(gray, EAN_FIT_REGIONS))
        return drop_overlaps(found)

    def _whole_image(self, gray: np.ndarray) -> list[Code]:
        """Read the whole image, on a copy at most `whole_px` long (crops keep full detail)."""
        scale = min(1.0, self.settings.whole_px / max(gray.shape))
        small = gray
        if scale < 1.0:
            small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for backend in self.backends:
            hits = backend.read(small)
            if hits:
                return hits if scale == 1.0 else [_scaled(c, 1.0 / scale) for c in hits]
        return []

    def _tilted(self, gray: np.ndarray, found: list[Code]) -> list[Code]:
        """Decode de-rotated crops of bar-like regions that no code read so far covers."""
        missed: list[Region] = []
        for region in find_linear_regions(gray, self.settings.max_regions):
            if any(c.symbology in BARS and region.contains(*c.centre()) for c in found):
                continue
            # harder attempts only in a close-up where nothing was read yet
            hard = not found and max(gray.shape) <= self.settings.close_up_px
            hits = self._read_region(gray, region) if hard else self._read_quick(gray, region)
            found = _merge(found, hits)
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
            hits = self._read_chain(upright, bars_only=True, upright=True)
            found = _merge(found, [_to_image(c, to_image) for c in hits])
        return found

    def _read_quick(self, gray: np.ndarray, region: Region) -> list[Code]:
        """Read one bar region cut out upright, in one attempt."""
        crop, to_image = derotate(gray, region)
        hits = self._read_chain(crop, bars_only=True, upright=True)
        if not hits:
            sharp = sharpened(crop, 2.0)
            hits = [
                c
                for c in self._read_chain(sharp, bars_only=True, upright=True)
                if c.symbology not in WEAKLY_CHECKED or tall(c, MIN_SPAN)
            ]
        return [_to_image(c, to_image) for c in hits]

    def _read_region(self, gray: np.ndarray, region: Region) -> list[Code]:
        """Read one bar region upright, then harder: sharpened, other binarizers, wider crop."""
        votes = Votes(self.settings.confirm_weak)
        for margin in (0.15, WIDE_MARGIN):
            crop, to_image = derotate(gray, region, margin=margin, zoom=CROP_ZOOM)
            plain, _ = derotate(gray, region, margin=margin)  # as the quick path cuts it
            tries = [(crop, 1.0, False), (plain, crop.shape[1] / plain.shape[1], False)]
            tries += attempts(crop, max(crop.shape) <= self.settings.close_up_px, CROP_SHARPEN)
            painted = light_ends(crop)
            if painted is not None:
                tries.append((painted, 1.0, False))
            # other sharpening strengths: a second look that agrees confirms an unsure read
            tries += [(sharpened(crop, sigma), 1.0, False) for sigma in (2.0, 6.0)]
            for image, back, global_threshold in tries:
                for backend in self.backends:
                    hits = backend.read(
                        image, bars_only=True, global_threshold=global_threshold, upright=True
                    )
                    if hits:
                        break
                hits = one_linear(hits)
                sure = {id(c) for c in hits if image is crop or image is plain or tall(c, MIN_SPAN)}
                confirmed = votes.add(hits, sure)
                if confirmed:
                    return [_to_image(_scaled(c, back), to_image) for c in confirmed]
        return []

    def _read_chain(
        self, image: np.ndarray, bars_only: bool = False, upright: bool = False
    ) -> list[Code]:
        """Return the first backend's codes that finds any."""
        for backend in self.backends:
            hits = backend.read(image, bars_only=bars_only, upright=upright)
            if hits:
                return hits
        return []

    def _second_effort(self, gray: np.ndarray) -> list[Code]:
        """Retry a small image: global threshold, local contrast, 2x upscale, sharpened upscale."""
        for image, back, global_threshold in attempts(gray, upscale=True):
            for backend in self.backends:
                hits = backend.read(image, global_threshold=global_threshold)
                if hits:
                    return [_scaled(c, back) for c in hits]
        return []


def _scaled(code: Code, factor: float) -> Code:
    """Scale a code's corner points."""
    if factor == 1.0:
        return code
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
