"""Helpers for device tests over real pseudo-terminals: a recording listener and fixtures."""

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import serial
import serial.rfc2217

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
        """Start a scale simulator at tmp_path/name (settling in 0.15 s unless told)."""
        options.setdefault("settle_s", 0.15)
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


class Rfc2217Bridge:
    """A small RFC 2217 server (pyserial's PortManager) that exposes a serial URL over TCP."""

    def __init__(self, serial_url: str) -> None:
        self.serial_url = serial_url
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rfc2217-bridge", daemon=True)

    def __enter__(self) -> "Rfc2217Bridge":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(3)
        self.server.close()

    def _run(self) -> None:
        """Serve one client at a time until stopped."""
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        """Shuttle bytes between the client and the serial port, with telnet escaping."""
        conn.settimeout(0.02)
        port = _PtySerial(self.serial_url, timeout=0.02)
        manager = serial.rfc2217.PortManager(port, _SocketWriter(conn))
        try:
            while not self._stop.is_set():
                data = port.read(port.in_waiting or 1)
                if data:
                    conn.sendall(b"".join(manager.escape(data)))
                try:
                    received = conn.recv(1024)
                except TimeoutError:
                    continue
                if not received:
                    break
                port.write(b"".join(manager.filter(received)))
        finally:
            port.close()


class _PtySerial(serial.Serial):
    """A serial port on a pty: ptys have no modem lines, so report them low and ignore sets."""

    cts = dsr = ri = cd = False

    def _update_rts_state(self) -> None:
        """Ptys have no RTS line."""

    def _update_dtr_state(self) -> None:
        """Ptys have no DTR line."""

    def _update_break_state(self) -> None:
        """Ptys cannot send a break."""


class _SocketWriter:
    """The `connection.write` PortManager expects."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def write(self, data: bytes) -> None:
        """Send negotiation bytes to the client."""
        self.conn.sendall(data)
