"""Find 1D barcode regions at any angle (structure tensor of image gradients) and de-rotate them."""

import math
from dataclasses import dataclass

import cv2
import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True)
class Region:
    """A candidate 1D label: centre, length across the bars, height along them, bar normal angle."""

    cx: float
    cy: float
    length: float
    height: float
    angle_deg: float  # direction of the gradient (across the bars), image coordinates
    score: float

    def contains(self, x: float, y: float) -> bool:
        """Return whether a point lies inside the region's rotated rectangle."""
        a = math.radians(self.angle_deg)
        dx, dy = x - self.cx, y - self.cy
        u = dx * math.cos(a) + dy * math.sin(a)
        v = -dx * math.sin(a) + dy * math.cos(a)
        return abs(u) <= self.length / 2 and abs(v) <= self.height / 2


def find_linear_regions(
    gray: np.ndarray,
    max_regions: int = 4,
    work_px: int = 640,
    window: int = 0,
    max_one_sided: float = 0.5,
) -> list[Region]:
    """Return up to `max_regions` bar-like regions, strongest first, in `gray` pixel units."""
    h, w = gray.shape[:2]
    scale = min(1.0, work_px / max(h, w))
    small = (
        gray
        if scale == 1.0
        else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )
    sh, sw = small.shape[:2]
    k = window or max(7, round(min(sh, sw) / 24) | 1)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    jxx = cv2.boxFilter(gx * gx, -1, (k, k))
    jyy = cv2.boxFilter(gy * gy, -1, (k, k))
    jxy = cv2.boxFilter(gx * gy, -1, (k, k))
    energy = jxx + jyy
    aniso = cv2.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy)
    coherence = aniso / (energy + 1e-3)
    strength = cv2.sqrt(aniso)
    bars = (coherence > 0.55) & (_one_sidedness(gx, gy, k) < max_one_sided)
    level = max(
        20.0,
        0.3 * float(np.percentile(strength[::3, ::3][bars[::3, ::3]], 99.5))
        if bars[::3, ::3].any()
        else 20.0,
    )
    mask = (bars & (strength > level)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    regions = []
    min_area = max(60.0, 0.002 * sh * sw)
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < min_area:
            continue
        region = _region_of(contour, jxx, jyy, jxy, strength, area)
        if region is not None:
            regions.append(region)
    regions.sort(key=lambda r: r.score, reverse=True)
    inv = 1.0 / scale
    return [
        Region(r.cx * inv, r.cy * inv, r.length * inv, r.height * inv, r.angle_deg, r.score)
        for r in regions[:max_regions]
    ]


def _one_sidedness(gx: np.ndarray, gy: np.ndarray, k: int) -> np.ndarray:
    """Return |sum of gradients| / sum of |gradients| per window: 1 for a lone edge, ~0 for bars."""
    sx = cv2.boxFilter(gx, -1, (k, k))
    sy = cv2.boxFilter(gy, -1, (k, k))
    ax = cv2.boxFilter(cv2.absdiff(gx, 0), -1, (k, k))
    ay = cv2.boxFilter(cv2.absdiff(gy, 0), -1, (k, k))
    return (cv2.absdiff(sx, 0) + cv2.absdiff(sy, 0)) / (ax + ay + 1e-3)


def _region_of(
    contour: np.ndarray,
    jxx: np.ndarray,
    jyy: np.ndarray,
    jxy: np.ndarray,
    strength: np.ndarray,
    area: float,
) -> Region | None:
    """Measure one mask blob: mean gradient orientation and extent across/along the bars."""
    x, y, bw, bh = cv2.boundingRect(contour)
    blob = np.zeros((bh, bw), np.uint8)
    cv2.drawContours(blob, [contour - (x, y)], -1, 1, thickness=-1)
    sel = blob.astype(bool)
    sxx = float(jxx[y : y + bh, x : x + bw][sel].sum())
    syy = float(jyy[y : y + bh, x : x + bw][sel].sum())
    sxy = float(jxy[y : y + bh, x : x + bw][sel].sum())
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy)
    pts = contour.reshape(-1, 2).astype(np.float64)
    u = pts @ np.array([math.cos(angle), math.sin(angle)])
    v = pts @ np.array([-math.sin(angle), math.cos(angle)])
    length, height = float(u.max() - u.min()), float(v.max() - v.min())
    if length < 8 or height < 4:
        return None
    cu, cv_ = (u.max() + u.min()) / 2, (v.max() + v.min()) / 2
    cx = cu * math.cos(angle) - cv_ * math.sin(angle)
    cy = cu * math.sin(angle) + cv_ * math.cos(angle)
    score = area * float(strength[y : y + bh, x : x + bw][sel].mean())
    return Region(cx, cy, length, height, math.degrees(angle), score)


def derotate(
    gray: np.ndarray,
    region: Region,
    margin: float = 0.15,
    max_len: int = 1600,
    zoom: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the region out with its bars vertical (scaled by zoom, at most max_len long)."""
    length = region.length * (1 + 2 * margin) + 20
    height = region.height * (1 + margin) + 10
    zoom = min(zoom, max_len / length)
    out_w, out_h = max(16, int(length * zoom)), max(16, int(height * zoom))
    a = math.radians(region.angle_deg)
    cos_a, sin_a = math.cos(a) / zoom, math.sin(a) / zoom
    # crop (x', y') -> image: centre + (x' - w/2) * u + (y' - h/2) * v, u/v scaled by 1/zoom
    to_image = np.array(
        [
            [cos_a, -sin_a, region.cx - cos_a * out_w / 2 + sin_a * out_h / 2],
            [sin_a, cos_a, region.cy - sin_a * out_w / 2 - cos_a * out_h / 2],
        ],
        np.float64,
    )
    crop = cv2.warpAffine(
        gray,
        to_image,
        (out_w, out_h),
        flags=(cv2.INTER_CUBIC if zoom > 1.0 else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return crop, to_image


def map_points(affine: np.ndarray, points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Map crop points to image points through a 2x3 affine."""
    out = []
    for x, y in points:
        px = affine[0, 0] * x + affine[0, 1] * y + affine[0, 2]
        py = affine[1, 0] * x + affine[1, 1] * y + affine[1, 2]
        out.append((round(px), round(py)))
    return out
