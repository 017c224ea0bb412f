"""Harder reads of a small image or a de-rotated crop: sharpened upscale, other binarizers."""

import cv2
import numpy as np

from edge.vision.backends import Code

Attempt = tuple[np.ndarray, float, bool]
_CLAHE = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))


def sharpened(image: np.ndarray, sigma: float, amount: float = 1.0) -> np.ndarray:
    """Unsharp-mask an image: restores the contrast of thin bars lost to blur."""
    return cv2.addWeighted(image, 1 + amount, cv2.GaussianBlur(image, (0, 0), sigma), -amount, 0)


def attempts(image: np.ndarray, upscale: bool, sharpen: float = 0.0) -> list[Attempt]:
    """Return (image, factor to map points back, global threshold?) to try in turn."""
    out: list[Attempt] = [(sharpened(image, sharpen), 1.0, False)] if sharpen else []
    out += [(image, 1.0, True), (_CLAHE.apply(image), 1.0, False)]
    if upscale:
        up = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        out += [(up, 0.5, True), (sharpened(up, 4.0), 0.5, False)]
    return out


def light_ends(crop: np.ndarray, min_share: float = 0.1) -> np.ndarray | None:
    """Paint dark runs that reach the crop's left or right end light (a canvas, not a bar).

    A label pressed against a dark background loses its quiet zone; zxing then takes the
    background for a bar. Runs shorter than `min_share` of the width are left alone (bars).
    None when there is nothing to paint.
    """
    lo, hi = np.percentile(crop, (5, 95))
    if hi - lo < 30:
        return None
    dark = crop < (lo + hi) / 2
    w = crop.shape[1]
    first_light = np.where(dark.all(axis=1), w, np.argmax(~dark, axis=1))
    last_light = np.where(dark.all(axis=1), 0, w - np.argmax(~dark[:, ::-1], axis=1))
    cols = np.arange(w)[None, :]
    paint = ((cols < first_light[:, None]) & (first_light[:, None] >= min_share * w)) | (
        (cols >= last_light[:, None]) & (w - last_light[:, None] >= min_share * w)
    )
    if not paint.any():
        return None
    out = crop.copy()
    out[paint] = int(hi)
    return out


WEAKLY_CHECKED = frozenset({"ean13", "itf", "itf14", "code39"})


class Votes:
    """Accept a weakly checked 1D read from an enhanced image only when a second attempt agrees."""

    def __init__(self, confirm: bool = True) -> None:
        self.confirm = confirm
        self.seen: dict[tuple[str, str], int] = {}

    def add(self, hits: list[Code], sure: set[int] | bool) -> list[Code]:
        """Count one attempt's codes; return those accepted now (empty: keep trying)."""
        accepted = []
        for code in hits:
            key = (code.text, code.symbology)
            self.seen[key] = self.seen.get(key, 0) + 1
            trusted = sure if isinstance(sure, bool) else id(code) in sure
            needs_second = self.confirm and not trusted and code.symbology in WEAKLY_CHECKED
            if not needs_second or self.seen[key] >= 2:
                accepted.append(code)
        return accepted


def one_linear(hits: list[Code]) -> list[Code]:
    """Keep one weakly checked 1D read per crop: the one found on the most scan lines.

    A crop holds one bar region; two different EAN/ITF/Code 39 texts from it mean that one
    (or both) came from a few rows of noise.
    """
    weak = [c for c in hits if c.symbology in WEAKLY_CHECKED]
    if len(weak) < 2:
        return hits
    best = max(weak, key=_row_span)
    return [c for c in hits if c.symbology not in WEAKLY_CHECKED or c is best]


def tall(code: Code, min_span: float) -> bool:
    """Return whether an upright 1D read covers rows at least `min_span` of its width."""
    q = code.position
    width = (abs(q[1][0] - q[0][0]) + abs(q[2][0] - q[3][0])) / 2  # a read may run right to left
    return _row_span(code) >= min_span * max(width, 1.0)


def _row_span(code: Code) -> float:
    """Return how many pixel rows of an upright crop a 1D read covers."""
    q = code.position
    return (abs(q[3][1] - q[0][1]) + abs(q[2][1] - q[1][1])) / 2


_FAMILY = {"gs1-128": "code128", "itf14": "itf"}


def drop_overlaps(codes: list[Code]) -> list[Code]:
    """Drop a read lying inside a larger read of the same symbology with another text.

    One place holds one code: a second, different text there came from a few rows or modules of
    blur or noise (seen on motion-blurred frames: a Code 128 inside the real one, PDF417 garbage
    inside a real PDF417), so the smaller one goes.
    """
    keep = []
    for code in codes:
        family = _FAMILY.get(code.symbology, code.symbology)
        inside_bigger = any(
            other.text != code.text
            and _FAMILY.get(other.symbology, other.symbology) == family
            and _area(other) > _area(code)
            and cv2.pointPolygonTest(_quad(other), code.centre(), False) >= 0
            for other in codes
        )
        if not inside_bigger:
            keep.append(code)
    return keep


def _quad(code: Code) -> np.ndarray:
    """Return a code's corner points as an OpenCV contour."""
    return np.array(code.position, np.float32).reshape(-1, 1, 2)


def _area(code: Code) -> float:
    """Return the area of a code's quadrilateral."""
    return abs(float(cv2.contourArea(_quad(code))))
