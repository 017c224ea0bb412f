"""A simulated scale on a pty: physics, command buffer, streaming, parcels and faults."""

import logging
import random
import time
from pathlib import Path

from firmware_sim.scales.physics import PhysicalScale, Snapshot
from firmware_sim.sim_thread import SerialSim

logger = logging.getLogger(__name__)

GARBAGE_POOL = bytes(b for b in range(256) if not 0x30 <= b <= 0x39)  # no digits: never a weight


class ScaleSim(SerialSim):
    """Common part of every scale simulator; subclasses speak one protocol."""

    protocol = ""
    terminator = b"\r"

    def __init__(
        self,
        link: str | Path,
        *,
        tcp_port: int | None = None,
        unit: str = "kg",
        division: float = 0.005,
        capacity: float = 60.0,
        settle_s: float = 0.3,
        noise: bool = True,
        rate_hz: float = 10.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(link, tcp_port)
        self.thread_name = f"sim-{self.protocol}"
        self.unit = unit
        self.scale = PhysicalScale(division, capacity, settle_s, noise, seed)
        self.rate_hz = rate_hz
        self.streaming = False
        self.received: list[bytes] = []  # every command the client sent, for tests and logs
        self._rng = random.Random(seed)
        self._buf = b""
        self._next_stream = 0.0
        self._auto: tuple[float, float, float, float] | None = None
        self._next_auto = 0.0

    # -- controls, safe from any thread ------------------------------------------------------
    def place(self, weight: float) -> None:
        """Put a parcel of `weight` (display unit) on the platform."""
        self.scale.place(weight, time.monotonic())

    def remove(self) -> None:
        """Take the parcel off."""
        self.scale.remove(time.monotonic())

    def set_faults(
        self,
        *,
        overload: bool | None = None,
        underload: bool | None = None,
        stuck_motion: bool | None = None,
    ) -> None:
        """Force (or clear) overload, underload or a scale stuck in motion."""
        if overload is not None:
            self.scale.force_overload = overload
        if underload is not None:
            self.scale.force_underload = underload
        if stuck_motion is not None:
            self.scale.stuck_motion = stuck_motion

    def inject_garbage(self, size: int = 24) -> bytes:
        """Send `size` random non-digit bytes down the line; return them."""
        junk = self.inject_garbage_bytes(size)
        self.send(junk)
        return junk

    def inject_garbage_bytes(self, size: int = 24) -> bytes:
        """Return `size` random bytes without digits (line noise that can never be a weight)."""
        return bytes(self._rng.choice(GARBAGE_POOL) for _ in range(size))

    def auto_parcels(
        self, every: tuple[float, float], weight: tuple[float, float] = (0.2, 25.0)
    ) -> None:
        """Place random parcels every `every` (min, max) seconds, each removed before the next."""
        self._auto = (*every, *weight)
        self._next_auto = time.monotonic()

    # -- simulator thread -------------------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        """Split client bytes into commands and answer each."""
        self._buf += data
        while self.terminator in self._buf:
            command, self._buf = self._buf.split(self.terminator, 1)
            self.received.append(command)
            for reply in self.answer(command, now):
                self.port.write(reply)
        if len(self._buf) > 256:
            self._buf = b""

    def on_tick(self, now: float) -> None:
        """Stream frames at the set rate and run automatic parcels."""
        self._auto_step(now)
        if self.streaming and now >= self._next_stream:
            self._next_stream = now + 1 / self.rate_hz
            frame = self.stream_frame(self.snapshot(now))
            if frame:
                self.port.write(frame)

    def answer(self, command: bytes, now: float) -> list[bytes]:
        """Return the replies to one command (override)."""
        return []

    def stream_frame(self, snap: Snapshot) -> bytes:
        """Return one streamed frame for the display state (override)."""
        return b""

    def snapshot(self, now: float) -> Snapshot:
        """Return the display state now."""
        return self.scale.snapshot(now)

    def _auto_step(self, now: float) -> None:
        """Alternate placing and removing random parcels."""
        if self._auto is None or now < self._next_auto:
            return
        low, high, w_low, w_high = self._auto
        slot = self._rng.uniform(low, high)
        if self.scale.load:
            self.scale.remove(now)
            self._next_auto = now + 0.25 * slot
        else:
            self.scale.place(round(self._rng.uniform(w_low, w_high), 3), now)
            self._next_auto = now + 0.75 * slot
