"""Stable-weight capture rules: pure logic over timed readings, so tests can pass the clock."""

from collections import deque
from dataclasses import dataclass

from dockscan.config import ScaleConfig
from edge.devices.protocols.base import Reading

EPSILON = 1e-9


@dataclass(frozen=True)
class CaptureRules:
    """Thresholds for one scale, in kg and seconds."""

    settle_s: float = 0.5
    division_kg: float = 0.005
    min_kg: float = 0.05
    max_kg: float = 60.0
    zero_band_kg: float = 0.025

    @classmethod
    def from_config(cls, cfg: ScaleConfig) -> "CaptureRules":
        """Build the rules from a scale's config."""
        return cls(
            settle_s=cfg.settle_ms / 1000,
            division_kg=cfg.division_kg,
            min_kg=cfg.min_kg,
            max_kg=cfg.max_kg,
            zero_band_kg=cfg.zero_band_kg,
        )


class StableCapture:
    """Decide when a parcel's weight is captured; one capture per parcel.

    A reading is captured when the device flags it stable, every stable reading for the last
    `settle_s` stayed within one division, it lies in [min_kg, max_kg] and carries no
    over/under/error flag. The next capture is armed only after the weight returns within
    `zero_band_kg` of zero or the device reports motion.
    """

    def __init__(self, rules: CaptureRules) -> None:
        self.rules = rules
        self.armed = True
        self._window: deque[tuple[float, float]] = deque()

    def reset(self) -> None:
        """Forget the settling window (e.g. after a disconnect); keep the arming state."""
        self._window.clear()

    def feed(self, t: float, reading: Reading) -> Reading | None:
        """Add a reading taken at time `t` (seconds); return it if it is a capture."""
        if reading.fault:
            self._window.clear()
            return None
        if not reading.stable:
            self.armed = True
            self._window.clear()
            return None
        kg = reading.kg
        if kg is None and not reading.at_zero:
            return None
        if kg is None or abs(kg) <= self.rules.zero_band_kg + EPSILON:
            self.armed = True
            self._window.clear()
            return None
        window = self._window
        window.append((t, kg))
        while max(w for _, w in window) - min(w for _, w in window) > (
            self.rules.division_kg + EPSILON
        ):
            window.popleft()
        settled = t - window[0][0] >= self.rules.settle_s - EPSILON
        in_range = self.rules.min_kg - EPSILON <= kg <= self.rules.max_kg + EPSILON
        if self.armed and settled and in_range:
            self.armed = False
            self._window.clear()
            return reading
        return None
