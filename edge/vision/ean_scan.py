"""Place an EAN-13 in a scan profile (start, width, blur, skew) and fit its digits (`ean_fit`)."""

from dataclasses import dataclass, replace

import numpy as np

from edge.vision import ean_fit
from edge.vision.ean_fit import QUIET, S

MAX_SIGMA = 2.4
MAX_SKEW = 0.4
MAX_MODULE = 12.0  # pixels


@dataclass(frozen=True)
class Geometry:
    """Where the 95 modules lie in a profile (pixels) and how blurred they are (modules)."""

    x0: float
    x1: float
    sigma: float
    skew: float = 0.0  # perspective: module width changes along the code (0: even)

    @property
    def module(self) -> float:
        """Return the module width in pixels."""
        return (self.x1 - self.x0) / 95.0


def resample(profile: np.ndarray, geo: Geometry) -> np.ndarray:
    """Sample the profile S times per module over the code and its rendered quiet zones."""
    u = ((np.arange(ean_fit.N_SAMPLES) + 0.5) / S - QUIET) / 95.0
    x = geo.x0 + (geo.x1 - geo.x0) * (u + geo.skew * u * (1.0 - u))
    return np.interp(x, np.arange(len(profile)), profile)


def darkness(samples: np.ndarray) -> np.ndarray:
    """Turn grey samples into darkness: 0 at the paper's level, 1 at the darkest bar."""
    white = float(np.percentile(samples, 95))
    black = float(samples.min())
    return (white - samples) / max(white - black, 1.0)


def _decode(z: np.ndarray, sigma: float) -> tuple[float, str]:
    """Return the best valid code's summed squared error and its text."""
    cost, digits = ean_fit.best_codes(ean_fit.window_costs(z, sigma))
    first = int(cost.argmin())
    return float(cost[first]), str(first) + "".join(str(int(d)) for d in digits[first])


def fit_at(profile: np.ndarray, geo: Geometry, rounds: int = 1) -> tuple[float, str, np.ndarray]:
    """Return the best code's cost per sample, its text and the normalised darkness used.

    Each round refits paper level and contrast (both linear along the code) to the last code.
    """
    grey = resample(profile, geo)
    z = darkness(grey)
    cost, text = _decode(z, geo.sigma)
    for _ in range(rounds):
        z = relit(grey, text, geo.sigma)
        cost, text = _decode(z, geo.sigma)
    return cost / ean_fit.N_SAMPLES, text, z


def relit(grey: np.ndarray, text: str, sigma: float) -> np.ndarray:
    """Fit grey = paper(t) - contrast(t) * rendering, both linear in t; return darkness."""
    r = ean_fit.module_response(sigma) @ ean_fit.modules_of(text)
    t = np.linspace(-1.0, 1.0, len(grey))
    a = np.stack([np.ones_like(t), t, -r, -t * r], axis=1)
    (p0, p1, c0, c1), *_ = np.linalg.lstsq(a, grey, rcond=None)
    contrast = np.maximum(c0 + c1 * t, 0.2 * max(abs(c0), 1.0))
    return (p0 + p1 * t - grey) / contrast


def search(profile: np.ndarray, geo: Geometry, fine: bool) -> tuple[Geometry, float, str]:
    """Fit start, end and blur (and skew when fine) by coordinate descent on the fit's cost.

    The coarse stage takes module-sized steps on the plain darkness; the fine stage takes
    smaller steps and refits the lighting at each one.
    """
    step, rounds = (0.4, 1) if fine else (1.0, 0)
    tried: dict[Geometry, tuple[float, str]] = {}

    def score(geo: Geometry) -> float:
        if geo not in tried:
            cost, text, _ = fit_at(profile, geo, rounds)
            tried[geo] = (cost, text)
        return tried[geo][0]

    improved = True
    while improved:
        improved = False
        for cand in _neighbours(geo, step, skew=fine):
            if score(cand) < score(geo) - 1e-9:
                geo, improved = cand, True
    score(geo)
    return geo, *tried[geo]


def _neighbours(geo: Geometry, step: float, skew: bool) -> list[Geometry]:
    """Return the geometries one step away in each parameter (skew only if asked)."""
    d = step * geo.module
    out = [
        replace(geo, x0=geo.x0 - d),
        replace(geo, x0=geo.x0 + d),
        replace(geo, x1=geo.x1 - d),
        replace(geo, x1=geo.x1 + d),
        replace(geo, sigma=min(MAX_SIGMA, geo.sigma * (1 + 0.2 * step))),
        replace(geo, sigma=geo.sigma / (1 + 0.2 * step)),
    ]
    if skew:
        out.append(replace(geo, skew=max(-MAX_SKEW, geo.skew - 0.1 * step)))
        out.append(replace(geo, skew=min(MAX_SKEW, geo.skew + 0.1 * step)))
    return out


def _known_template(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the module positions a code always has (quiet zones, guards) and their darkness.

    Unknown digit modules count as half dark, so the blurred value at a known module is what
    any code is expected to show there.
    """
    pad = 6
    fill = np.full(95 + 2 * pad, 0.5)
    fill[:pad] = fill[95 + pad :] = 0.0
    known = {0: 1, 1: 0, 2: 1, 3: 0, 44: 1, 45: 0, 46: 1, 47: 0, 48: 1, 49: 0, 50: 1}
    known.update({91: 0, 92: 1, 93: 0, 94: 1})
    for k, v in known.items():
        fill[k + pad] = v
    x = np.arange(-3 * pad, 3 * pad + 1) / 3.0
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    fine = np.convolve(np.repeat(fill, 3), kernel / kernel.sum(), mode="same")
    where = np.array(sorted(known) + list(range(-pad, -1)) + list(range(96, 95 + pad)), float)
    return where, fine[(where.astype(int) + pad) * 3 + 1]


def guard_candidates(profile: np.ndarray, limit: int = 3) -> list[Geometry]:
    """Rank start/width/blur by how well quiet zones and guard bars alone fit; return the best."""
    n = len(profile)
    widths = 1.2 * 1.02 ** np.arange(200)
    widths = widths[(widths <= MAX_MODULE) & (widths * 95 < n - 4)]
    if not len(widths):
        return []
    scored = []
    for sigma in (1.0, 1.6, 2.2):
        where, value = _known_template(sigma)
        for w in widths:
            x0 = np.arange(max(0.0, 6 * w), n - 101 * w, 0.5)
            if not len(x0):
                continue
            y = np.interp(x0[:, None] + (where[None, :] + 0.5) * w, np.arange(n), profile)
            # least squares y = a - b * value per start: closed form
            vc = value - value.mean()
            b = -(y - y.mean(axis=1, keepdims=True)) @ vc / (vc @ vc)
            a = y.mean(axis=1) + b * value.mean()
            res = ((y - (a[:, None] - b[:, None] * value[None, :])) ** 2).mean(axis=1)
            cost = res / np.maximum(b, 1e-3) ** 2
            cost[b < 5.0] = np.inf
            k = int(np.argmin(cost))
            scored.append((float(cost[k]), Geometry(float(x0[k]), float(x0[k] + 95 * w), sigma)))
    scored.sort(key=lambda t: t[0])
    out: list[Geometry] = []
    for _, geo in scored:
        if all(abs(geo.x0 - g.x0) > 3 * g.module or abs(geo.x1 - g.x1) > 3 * g.module for g in out):
            out.append(geo)
        if len(out) == limit:
            break
    return out
