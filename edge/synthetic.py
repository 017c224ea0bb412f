"""Synthetic load: scan + weight pairs fed to the station as if real devices produced them."""

import logging
import random
import threading
import time

from dockscan.codes import s10_with_check
from edge.devices.base import CapturedWeight, DeviceListener, ScanRead

logger = logging.getLogger(__name__)


class SyntheticLoad:
    """Produces `count` parcels at `rate` per second on one named thread (load tests)."""

    def __init__(self, listener: DeviceListener, rate: float, count: int) -> None:
        if rate <= 0 or count < 0:
            raise ValueError("synthetic rate must be > 0 and count >= 0")
        self.listener, self.rate, self.count = listener, rate, count
        self.produced = 0
        self.done = threading.Event()
        self._stop = threading.Event()
        self._base = random.randrange(10**8)
        self._thread = threading.Thread(target=self._run, name="synthetic", daemon=True)

    def start(self) -> None:
        """Start producing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop producing and join."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        """Emit one valid S10 scan and one stable weight per parcel, paced to the rate."""
        start = time.monotonic()
        for i in range(self.count):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if self._stop.is_set():
                break
            code = s10_with_check("SY", self._base + i, "XX")
            kg = round(0.5 + (i % 400) * 0.05, 3)
            now = time.monotonic()
            self.listener.on_scan(ScanRead("synthetic-scanner", "scanner", code, "code128", t=now))
            raw = f"S S {kg:10.3f} kg\r\n".encode()
            self.listener.on_weight(
                CapturedWeight("synthetic-scale", kg, f"{kg:.3f}", "kg", raw, t=now)
            )
            self.produced += 1
        logger.info("synthetic load done: %d parcel(s)", self.produced)
        self.done.set()
