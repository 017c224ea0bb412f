"""A simulated weighing platform: load, settling with noise, zero, tare and forced faults."""

import math
import random
import threading
from dataclasses import dataclass


def decimals_of(division: float) -> int:
    """Return the number of decimals needed to show multiples of `division`."""
    for places in range(7):
        if abs(round(division, places) - division) < 1e-12:
            return places
    return 6


@dataclass(frozen=True)
class Snapshot:
    """What the scale displays at one instant (values already rounded to the division)."""

    gross: float
    net: float
    tare: float
    motion: bool
    overload: bool
    underload: bool
    at_zero: bool

    @property
    def shown(self) -> float:
        """Return the displayed value: net when a tare is set, else gross."""
        return self.net if self.tare else self.gross


class PhysicalScale:
    """The platform and its load cell, in the display unit. Thread-safe."""

    def __init__(
        self,
        division: float = 0.005,
        capacity: float = 60.0,
        settle_s: float = 0.3,
        noise: bool = True,
        seed: int | None = None,
    ) -> None:
        self.division, self.capacity, self.settle_s, self.noise = (
            division,
            capacity,
            settle_s,
            noise,
        )
        self.decimals = decimals_of(division)
        self.load = 0.0
        self.zero_offset = 0.0
        self.tare = 0.0
        self.stuck_motion = self.force_overload = self.force_underload = False
        self._changed_at = -math.inf
        self._step = 0.0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def place(self, weight: float, now: float) -> None:
        """Put a load of `weight` on the platform (it moves, then settles)."""
        with self._lock:
            self._step = abs(weight - self.load)
            self.load, self._changed_at = weight, now

    def remove(self, now: float) -> None:
        """Take everything off the platform."""
        self.place(0.0, now)

    def hold(self, weight: float) -> None:
        """Set the load as already settled, without motion (for exact test frames)."""
        with self._lock:
            self.load, self._changed_at = weight, -math.inf

    def snapshot(self, now: float) -> Snapshot:
        """Return the display at time `now`."""
        with self._lock:
            since = now - self._changed_at
            motion = self.stuck_motion or since < self.settle_s
            true = self.load - self.zero_offset
            # A platform swings after a parcel is taken off, but not below zero: without this
            # floor every removal would read as under zero / underload on the scale's display.
            raw = max(true + self._noise(since, motion), min(true, 0.0))
            gross = self._round(raw)
            tare = self.tare
        return Snapshot(
            gross=gross,
            net=self._round(gross - tare),
            tare=tare,
            motion=motion,
            overload=self.force_overload or gross > self.capacity + 9 * self.division,
            underload=self.force_underload or gross < -20 * self.division,
            at_zero=abs(gross) < self.division / 2,
        )

    def zero(self, now: float) -> str:
        """Zero the scale: "ok", "motion", or "range" when the load is outside ±4% of capacity."""
        snap = self.snapshot(now)
        if snap.motion:
            return "motion"
        if abs(snap.gross) > 0.04 * self.capacity:
            return "range"
        with self._lock:
            self.zero_offset += snap.gross
        return "ok"

    def set_tare(self, now: float) -> str:
        """Tare the current gross load: "ok", "motion", or "range" for a load at or below zero."""
        snap = self.snapshot(now)
        if snap.motion:
            return "motion"
        if snap.gross <= 0 or snap.overload:
            return "range"
        with self._lock:
            self.tare = snap.gross
        return "ok"

    def clear_tare(self) -> None:
        """Remove the tare."""
        with self._lock:
            self.tare = 0.0

    def fmt(self, value: float, width: int = 0) -> str:
        """Format a displayed value with the division's decimals (no negative zero)."""
        return f"{value + 0.0:{width}.{self.decimals}f}"

    def _round(self, value: float) -> float:
        """Round to a whole number of divisions."""
        return round(round(value / self.division) * self.division, self.decimals) + 0.0

    def _noise(self, since: float, motion: bool) -> float:
        """Return load-cell noise: a decaying swing while moving, under half a division after."""
        if not self.noise:
            return 0.0
        if motion:
            swing = max(10 * self.division, 0.05 * self._step)
            fade = 1.0 if self.stuck_motion else max(0.0, 1 - since / self.settle_s)
            return self._rng.uniform(-swing, swing) * max(fade, 0.2)
        return self._rng.uniform(-0.3, 0.3) * self.division
