"""Ways to turn a photograph by an angle, for the decode benchmark: canvas size and fill differ.

A rotated photo is only a stand-in for a tilted label, and how the corners are filled decides how
much clutter lands next to the code: a median-grey canvas is kind, black or white fill draws a
hard straight edge, a same-size canvas cuts the corners off (and sometimes the code's quiet zone),
and border replication smears the edge pixels into long streaks.
"""

from collections.abc import Callable

import cv2
import numpy as np

Rotation = Callable[[np.ndarray, float], np.ndarray]


def _turn(
    gray: np.ndarray,
    degrees: float,
    enlarge: bool,
    fill: int | None,
    replicate: bool = False,
    nearest: bool = False,
) -> np.ndarray:
    """Rotate about the centre (counter-clockwise), on an enlarged or a same-size canvas."""
    h, w = gray.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    nw, nh = w, h
    if enlarge:
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    if replicate:
        return cv2.warpAffine(gray, m, (nw, nh), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    value = int(np.median(gray)) if fill is None else fill
    return cv2.warpAffine(gray, m, (nw, nh), flags=flags, borderValue=value)


def enlarged_median(gray: np.ndarray, degrees: float) -> np.ndarray:
    """Enlarged canvas (nothing cut off) filled with the photo's median grey."""
    return _turn(gray, degrees, enlarge=True, fill=None)


def enlarged_black(gray: np.ndarray, degrees: float) -> np.ndarray:
    """Enlarged canvas filled with black: four hard edges around the photo."""
    return _turn(gray, degrees, enlarge=True, fill=0)


def enlarged_black_nearest(gray: np.ndarray, degrees: float) -> np.ndarray:
    """Enlarged canvas, black fill, nearest-neighbour pixels (an image library's quick rotate)."""
    return _turn(gray, degrees, enlarge=True, fill=0, nearest=True)


def enlarged_white(gray: np.ndarray, degrees: float) -> np.ndarray:
    """Enlarged canvas filled with white."""
    return _turn(gray, degrees, enlarge=True, fill=255)


def cropped_black(gray: np.ndarray, degrees: float) -> np.ndarray:
    """Same-size canvas: the corners are cut off, the gaps filled with black."""
    return _turn(gray, degrees, enlarge=False, fill=0)


def cropped_white(gray: np.ndarray, degrees: float) -> np.ndarray:
    """Same-size canvas, corners cut off, gaps filled with white."""
    return _turn(gray, degrees, enlarge=False, fill=255)


def replicated(gray: np.ndarray, degrees: float) -> np.ndarray:
    """Enlarged canvas filled by replicating the border pixels (streaks out of every edge)."""
    return _turn(gray, degrees, enlarge=True, fill=None, replicate=True)


METHODS: dict[str, Rotation] = {
    "enlarged-median": enlarged_median,
    "enlarged-black": enlarged_black,
    "enlarged-black-nearest": enlarged_black_nearest,
    "enlarged-white": enlarged_white,
    "cropped-black": cropped_black,
    "cropped-white": cropped_white,
    "replicate": replicated,
}


def rotate(gray: np.ndarray, degrees: float, method: str = "enlarged-median") -> np.ndarray:
    """Rotate a photo by `degrees` with a named method; 0° is the photo, 90° an exact turn."""
    if degrees == 0:
        return gray
    if degrees == 90:
        return cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE)
    return METHODS[method](gray, degrees)


def cut_off(
    shape: tuple[int, int], quad: list[tuple[int, int]], degrees: float, method: str
) -> bool:
    """Return whether a same-size canvas cuts a 1D code's centre line (from its 0° quad) off."""
    if not method.startswith("cropped") or degrees in (0, 90):
        return False
    h, w = shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    q = np.array(quad, np.float64)
    ends = np.array([(q[0] + q[3]) / 2, (q[1] + q[2]) / 2])  # left and right end of the code
    x, y = (ends @ m[:, :2].T + m[:, 2]).T
    return not bool(((x >= 0) & (x < w) & (y >= 0) & (y < h)).all())
