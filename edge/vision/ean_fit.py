"""Decode a blurred EAN-13 scan profile by fitting rendered, blurred digit patterns (no thresholds).

The profile is resampled at a few samples per module for a given start and module width, turned
into "darkness", and compared with the 95-module pattern blurred by a Gaussian. Each window of
seven modules depends on its digit and, through the blur, on its two neighbours, so a Viterbi
pass over digit pairs (with the partial check sum in the state) finds the best valid code for each
first digit (the left half's L/G parity pattern). The second-best valid code is found by running
the same pass with one digit forbidden at a time; a read counts only with a clear margin.
"""

import math
from dataclasses import dataclass

import numpy as np

S = 3  # samples per module
QUIET = 5  # modules of quiet zone rendered on each side
_L = ("0001101", "0011001", "0010011", "0111101", "0100011")
_L += ("0110001", "0101111", "0111011", "0110111", "0001011")
L_BITS = np.array([[int(ch) for ch in p] for p in _L], np.float64)
R_BITS = 1.0 - L_BITS
G_BITS = R_BITS[:, ::-1]
LEFT_BITS = np.concatenate([L_BITS, G_BITS])  # 0-9 odd parity (L), 10-19 even parity (G)
PARITY = ("000000", "001011", "001101", "001110", "010011")
PARITY += ("011001", "011100", "010101", "010110", "011010")
SLOTS = [3 + 7 * i for i in range(6)] + [50 + 7 * i for i in range(6)]  # first module per digit
FIXED = {0: 1, 2: 1, 46: 1, 48: 1, 92: 1, 94: 1}  # guard bars (other guard modules are spaces)
WEIGHTS = [1 if i % 2 == 0 else 3 for i in range(13)]
N_SAMPLES = S * (95 + 2 * QUIET)


@dataclass(frozen=True)
class Fit:
    """The best code for one profile, its residual cost and that of the best other valid code."""

    text: str
    cost: float
    second: float

    @property
    def margin(self) -> float:
        """Return how much worse the best other valid code fits, relative to the best one."""
        return self.second / max(self.cost, 1e-9)


def module_response(sigma: float) -> np.ndarray:
    """Return (samples, 95): each module's blurred unit bar at every sample position."""
    return responses(sigma)[2]


def _module_response(sigma: float) -> np.ndarray:
    """Compute module_response: a unit bar's edges blurred (normal CDF, by tabulated erf)."""
    t = (np.arange(N_SAMPLES) + 0.5) / S - QUIET
    edges = (t[:, None] - np.arange(96, dtype=np.float64)[None, :]) / (max(sigma, 0.05) * 1.4142)
    cdf = 0.5 * np.interp(edges, _ERF_X, _ERF_Y)
    return cdf[:, :95] - cdf[:, 1:]


def _windows() -> list[tuple[int, int]]:
    """Return each digit's sample window; the ends and the centre guard are shared out."""
    bounds = []
    for i, m in enumerate(SLOTS):
        lo, hi = (m + QUIET) * S, (m + 7 + QUIET) * S
        if i == 0:
            lo = 0
        if i == 5:
            hi = int((47.5 + QUIET) * S)
        if i == 6:
            lo = int((47.5 + QUIET) * S)
        if i == 11:
            hi = N_SAMPLES
        bounds.append((lo, hi))
    return bounds


WINDOWS = _windows()
_RESPONSES: dict[float, tuple[np.ndarray, list[np.ndarray], np.ndarray]] = {}
_ERF_X = np.linspace(-6.0, 6.0, 4801)
_ERF_Y = np.array([math.erf(x) for x in _ERF_X])


def responses(sigma: float) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Return the guards' rendering, per digit slot every pattern's, and the module response."""
    key = round(sigma, 3)
    if key not in _RESPONSES:
        if len(_RESPONSES) > 512:
            _RESPONSES.clear()
        m = _module_response(key)
        fixed = m[:, list(FIXED)].sum(axis=1)
        per_slot = []
        for i, start in enumerate(SLOTS):
            bits = LEFT_BITS if i < 6 else R_BITS
            per_slot.append(bits @ m[:, start : start + 7].T)  # (patterns, samples)
        _RESPONSES[key] = (fixed, per_slot, m)
    return _RESPONSES[key]


def window_costs(z: np.ndarray, sigma: float) -> list[np.ndarray]:
    """Return per window i the squared error over (prev, this, next) patterns."""
    fixed, per_slot, _ = responses(sigma)
    out = []
    for i, (lo, hi) in enumerate(WINDOWS):
        r = (z - fixed)[lo:hi]
        cur = per_slot[i][:, lo:hi]
        prev = per_slot[i - 1][:, lo:hi] if i > 0 else np.zeros((1, hi - lo))
        nxt = per_slot[i + 1][:, lo:hi] if i < 11 else np.zeros((1, hi - lo))
        # |r - p - c - n|^2 expanded: only dot products between the renderings are needed
        rr = float(r @ r)
        pp, cc, nn = (prev * prev).sum(1), (cur * cur).sum(1), (nxt * nxt).sum(1)
        rp, rc, rn = prev @ r, cur @ r, nxt @ r
        pc, pn, cn = prev @ cur.T, prev @ nxt.T, cur @ nxt.T
        tot = (rr + pp - 2 * rp)[:, None, None] + (cc - 2 * rc)[None, :, None]
        tot = tot + (nn - 2 * rn)[None, None, :]
        tot = tot + 2 * (pc[:, :, None] + pn[:, None, :] + cn[None, :, :])
        out.append(tot)
    return out


def _choices(first: int) -> list[np.ndarray]:
    """Return, per slot, the pattern indices (into that slot's table) of digits 0-9."""
    par = PARITY[first]
    return [np.arange(10) + (10 if i < 6 and par[i] == "1" else 0) for i in range(12)]


_CH = [_choices(f) for f in range(10)]
_D = np.arange(10)
# new check-sum index s' for (digit c, old sum s) gathered as old[(s' - w c) % 10]
_SHIFT = {w: (_D[None, :] - w * _D[:, None]) % 10 for w in (1, 3)}


_CHS = np.array(_CH)  # (first digit, slot, digit) -> pattern index


def _slot_costs(costs: list[np.ndarray], i: int) -> np.ndarray:
    """Return window i's costs per first digit, indexed by digits (first, prev, this, next)."""
    if i == 0:
        return costs[0][0][_CHS[:, 0, :, None], _CHS[:, 1, None, :]]
    if i == 11:
        return costs[11][_CHS[:, 10, :, None], _CHS[:, 11, None, :], 0]
    return costs[i][
        _CHS[:, i - 1, :, None, None], _CHS[:, i, None, :, None], _CHS[:, i + 1, None, None, :]
    ]


def best_codes(
    costs: list[np.ndarray], forbid: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return per first digit the cheapest valid code's cost and its 12 further digits (Viterbi).

    forbid=(slot, digit) leaves that digit out at that slot (for the second-best code).
    """
    big = 1e18
    pen = np.zeros((12, 10))
    if forbid is not None:
        pen[forbid] = big
    # state after window i: (first, d_i, d_{i+1}, weighted sum of digits 0..i+1 mod 10)
    v = np.full((10, 10, 10, 10), big)
    c0 = _slot_costs(costs, 0) + pen[0][None, :, None] + pen[1][None, None, :]
    sums = _D[:, None, None] + WEIGHTS[1] * _D[None, :, None] + WEIGHTS[2] * _D[None, None, :]
    f, a, b = np.meshgrid(_D, _D, _D, indexing="ij")
    v[f, a, b, sums % 10] = c0
    history = []
    for i in range(1, 11):
        c = _slot_costs(costs, i) + pen[i + 1][None, None, None, :]
        history.append((v, c))
        best = (v[:, :, :, None, :] + c[:, :, :, :, None]).min(axis=1)  # (f, b, c, s)
        v = best[:, :, _D[:, None], _SHIFT[WEIGHTS[i + 2]]]
    final = v[:, :, :, 0] + _slot_costs(costs, 11)  # (f, d10, d11)
    flat = final.reshape(10, -1)
    idx = flat.argmin(axis=1)
    cost = flat[_D, idx]
    digits = np.zeros((10, 12), int)
    digits[:, 10], digits[:, 11] = idx // 10, idx % 10
    s = np.zeros(10, int)
    for i in range(10, 0, -1):
        # recompute the best predecessor of the chosen state instead of storing arg-minima
        s = (s - WEIGHTS[i + 2] * digits[:, i + 1]) % 10
        prev, c = history[i - 1]
        b, nxt = digits[:, i], digits[:, i + 1]
        options = prev[_D, :, b, s] + c[_D, :, b, nxt]  # (f, a)
        digits[:, i - 1] = options.argmin(axis=1)
    return cost, digits


def modules_of(text: str) -> np.ndarray:
    """Return the 95 modules (1 = bar) of a 13-digit EAN text."""
    d = [int(ch) for ch in text]
    rows: list[np.ndarray] = [np.array([1.0, 0.0, 1.0])]
    for i in range(6):
        rows.append(G_BITS[d[i + 1]] if PARITY[d[0]][i] == "1" else L_BITS[d[i + 1]])
    rows.append(np.array([0.0, 1.0, 0.0, 1.0, 0.0]))
    rows += [R_BITS[d[i + 7]] for i in range(6)]
    rows.append(np.array([1.0, 0.0, 1.0]))
    return np.concatenate(rows)


def fit(z: np.ndarray, sigma: float) -> Fit:
    """Return the best valid code for a darkness profile and the cost of the best other one."""
    costs = window_costs(z, sigma)
    cost, digits = best_codes(costs)
    first = int(cost.argmin())
    best = float(cost[first])
    second = float(np.delete(cost, first).min())
    for slot in range(12):
        alt, _ = best_codes(costs, forbid=(slot, int(digits[first, slot])))
        second = min(second, float(alt[first]))
    text = str(first) + "".join(str(int(d)) for d in digits[first])
    return Fit(text, best, second)
