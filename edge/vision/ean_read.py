"""Last attempt on a blurred EAN-13 that zxing-cpp could not read: fit it on two scan bands.

Used only for close-ups where nothing was read and EAN-13 is asked for. A read needs a clear
margin over the best other valid code on one band of scan lines, and the same code, again with
a margin, on a second, separate band; precision matters more than recall here.
"""

import math

import numpy as np

from edge.vision import ean_fit, ean_scan
from edge.vision.backends import Code
from edge.vision.localise import Region, derotate, map_points

MIN_MARGIN = 1.1  # the best other valid code must fit this much worse (squared error ratio)
BAND = 0.12  # share of the region's bar height averaged into one profile
OFFSET = 0.14  # each band's centre, as a share of that height, above and below the middle
MAX_CANDIDATES = 3  # code placements tried per profile and direction


def read_blurred_ean(gray: np.ndarray, regions: list[Region]) -> list[Code]:
    """Return at most one EAN-13 fitted in the first regions' scan bands, or nothing."""
    h, w = gray.shape[:2]
    done: list[Region] = []
    for region in regions:
        if any(_same_line(region, other) for other in done):
            continue
        done.append(region)
        bands = [_band(gray, region, sign * OFFSET, float(np.hypot(h, w))) for sign in (-1, 1)]
        if any(b is None for b in bands):
            continue
        (first, to_image, rows), (second, _, _) = bands  # type: ignore[misc]
        for flip in (False, True):
            a, b = (first[::-1], second[::-1]) if flip else (first, second)
            code = _read_profiles(a, b)
            if code is None:
                continue
            text, geo = code
            x0, x1 = (len(a) - geo.x1, len(a) - geo.x0) if flip else (geo.x0, geo.x1)
            return [Code(text, "ean13", _quad(to_image, x0, x1, rows), "ean-fit")]
    return []


def _read_profiles(a: np.ndarray, b: np.ndarray) -> tuple[str, ean_scan.Geometry] | None:
    """Fit band a; confirm on band b from a's geometry; return the text when both are clear."""
    for start in ean_scan.guard_candidates(a, MAX_CANDIDATES):
        rough, _, _ = ean_scan.search(a, start, fine=False)
        geo, _, text = ean_scan.search(a, rough, fine=True)
        geo_b, _, text_b = ean_scan.search(b, geo, fine=True)
        if text_b != text:  # a wrong fit rarely repeats on other scan lines
            continue
        if _margin(a, geo, text) >= MIN_MARGIN and _margin(b, geo_b, text) >= MIN_MARGIN:
            return text, geo
    return None


def _same_line(region: Region, other: Region) -> bool:
    """Return whether a region lies on the scan line already taken through another."""
    if abs(region.angle_deg - other.angle_deg) > 4.0:
        return False
    a = math.radians(other.angle_deg)
    across = -(region.cx - other.cx) * math.sin(a) + (region.cy - other.cy) * math.cos(a)
    return abs(across) < 0.25 * other.height


def _margin(profile: np.ndarray, geo: ean_scan.Geometry, text: str) -> float:
    """Return how much worse the best other valid code fits than `text` (1: as well)."""
    _, best, z = ean_scan.fit_at(profile, geo, rounds=2)
    if best != text:
        return 0.0
    return ean_fit.fit(z, geo.sigma).margin


def _band(
    gray: np.ndarray, region: Region, offset: float, length: float
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Return one band's mean profile across the bars, its affine to the image and its rows."""
    a = math.radians(region.angle_deg)
    shift = offset * region.height  # along the bars (the region's v axis)
    cx, cy = region.cx - math.sin(a) * shift, region.cy + math.cos(a) * shift
    line = Region(cx, cy, length, max(3.0, BAND * region.height), region.angle_deg, 0.0)
    crop, to_image = derotate(gray, line, margin=0.0)
    if crop.shape[1] < 95:
        return None
    return crop.astype(np.float64).mean(axis=0), to_image, crop.shape[0]


def _quad(
    to_image: np.ndarray, x0: float, x1: float, rows: int
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Map the code's ends on a band to image corner points."""
    pts = [(round(x0), 0), (round(x1), 0), (round(x1), rows), (round(x0), rows)]
    q = map_points(to_image, pts)
    return (q[0], q[1], q[2], q[3])
