"""Last attempt on a blurred EAN-13 that zxing-cpp could not read: fit it on three scan bands.

Used only for close-ups where nothing was read and EAN-13 is asked for. A read needs the same
code on two of three separate bands of scan lines, on each with a clear margin over the best
other valid code; precision matters more than recall here.
"""

import math

import numpy as np

from edge.vision import ean_fit, ean_scan
from edge.vision.backends import Code
from edge.vision.localise import Region, derotate, map_points

MIN_MARGIN = 1.15  # the best other valid code must fit this much worse (squared error ratio)
BAND = 0.12  # share of the region's bar height averaged into one profile
OFFSETS = (-0.14, 0.0, 0.14)  # band centres along the bars, as shares of the region's height
MAX_CANDIDATES = 3  # code placements tried per profile and direction


def read_blurred_ean(gray: np.ndarray, regions: list[Region]) -> list[Code]:
    """Return at most one EAN-13 fitted in the regions' scan bands, or nothing."""
    h, w = gray.shape[:2]
    for region in regions:
        bands = [_band(gray, region, offset, float(np.hypot(h, w))) for offset in OFFSETS]
        if any(b is None for b in bands):
            continue
        profiles = [b[0] for b in bands]  # type: ignore[index]
        _, to_image, rows = bands[0]  # type: ignore[misc]
        for flip in (False, True):
            found = _read_profiles([p[::-1] if flip else p for p in profiles])
            if found is None:
                continue
            text, geo = found
            n = len(profiles[0])
            x0, x1 = (n - geo.x1, n - geo.x0) if flip else (geo.x0, geo.x1)
            return [Code(text, "ean13", _quad(to_image, x0, x1, rows), "ean-fit")]
    return []


def _read_profiles(profiles: list[np.ndarray]) -> tuple[str, ean_scan.Geometry] | None:
    """Fit the first band; refit the others from its geometry; two must agree, both clearly."""
    lead = profiles[0]
    for start in ean_scan.guard_candidates(lead, MAX_CANDIDATES):
        rough, _, _ = ean_scan.search(lead, start, fine=False)
        geo, _, text = ean_scan.search(lead, rough, fine=True)
        fits = [(lead, geo, text)]
        for other in profiles[1:]:
            fits.append((other, *ean_scan.search(other, geo, fine=True)[::2]))
        texts = [t for _, _, t in fits]
        for candidate in set(texts):
            if texts.count(candidate) < 2:  # a wrong fit rarely repeats on other scan lines
                continue
            clear = [g for p, g, t in fits if t == candidate and _margin(p, g, t) >= MIN_MARGIN]
            if len(clear) >= 2:
                return candidate, clear[0]
    return None


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
