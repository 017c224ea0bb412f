"""Helpers for device tests over real pseudo-terminals: a recording listener and fixtures."""

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dockscan.config import ScaleConfig, ScannerConfig
from edge.devices.base import CapturedWeight, ScanRead
from edge.devices.scale import ScaleDevice
from edge.devices.scanner import ScannerDevice
from firmware_sim.scales import ScaleSim, make_scale_sim
from firmware_sim.scanner import ScannerSim


class Recorder:
    """A DeviceListener that records everything, thread-safely."""

    def __init__(self) -> None:
        self.weights: list[CapturedWeight] = []
        self.scans: list[ScanRead] = []
        self.states: list[tuple[str, str, str, str]] = []
        self._lock = threading.Lock()

    def on_weight(self, weight: CapturedWeight) -> None:
        """Record a captured weight."""
        with self._lock:
            self.weights.append(weight)

    def on_scan(self, scan: ScanRead) -> None:
        """Record a scan."""
        with self._lock:
            self.scans.append(scan)

    def on_device_state(self, device: str, kind: str, state: str, reason: str) -> None:
        """Record a state change."""
        with self._lock:
            self.states.append((device, kind, state, reason))

    def state_names(self) -> list[str]:
        """Return the sequence of states reported."""
        with self._lock:
            return [s[2] for s in self.states]


class Bench:
    """Starts simulators and drivers on tmp_path links and stops them all at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._stops: list[Callable[[], None]] = []

    def scale_sim(self, protocol: str, name: str = "scale", **options: Any) -> ScaleSim:
        """Start a scale simulator at tmp_path/name."""
        sim = make_scale_sim(protocol, str(self.tmp_path / name), **options)
        sim.start()
        self._stops.append(sim.stop)
        return sim

    def scanner_sim(self, name: str = "scan", **options: Any) -> ScannerSim:
        """Start a scanner simulator at tmp_path/name."""
        sim = ScannerSim(self.tmp_path / name, **options)
        sim.start()
        self._stops.append(sim.stop)
        return sim

    def scale(self, protocol: str, port: str, **cfg: Any) -> tuple[ScaleDevice, Recorder]:
        """Start a scale driver on `port`."""
        recorder = Recorder()
        config = ScaleConfig(kind="scale", id="scale1", protocol=protocol, port=port, **cfg)
        device = ScaleDevice(config, recorder)
        device.start()
        self._stops.append(device.stop)
        return device, recorder

    def scanner(self, port: str, **cfg: Any) -> tuple[ScannerDevice, Recorder]:
        """Start a scanner driver on `port`."""
        recorder = Recorder()
        device = ScannerDevice(
            ScannerConfig(kind="scanner", id="scan1", port=port, **cfg), recorder
        )
        device.start()
        self._stops.append(device.stop)
        return device, recorder

    def close(self) -> None:
        """Stop drivers first, then simulators."""
        for stop in reversed(self._stops):
            stop()


@contextlib.contextmanager
def open_bench(tmp_path: Path) -> Iterator[Bench]:
    """A Bench that cleans up on exit (wrap it in a fixture)."""
    b = Bench(tmp_path)
    try:
        yield b
    finally:
        b.close()
