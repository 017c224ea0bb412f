"""What every device driver gives the station: readings, captures, scans and state changes."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from dockscan.ids import utcnow


@dataclass(frozen=True)
class CapturedWeight:
    """A stable weight captured from a scale, ready to pair with a scan."""

    device: str
    kg: float
    device_value: str
    device_unit: str
    raw: bytes
    stable: bool = True
    t: float = 0.0  # time.monotonic() at capture
    ts: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class ScanRead:
    """One code read by a scanner or camera (already de-duplicated across frames)."""

    device: str
    source_kind: str  # "scanner" or "camera"
    text: str
    symbology: str
    t: float = 0.0  # time.monotonic() at read
    ts: datetime = field(default_factory=utcnow)
    position: tuple[tuple[int, int], ...] | None = None


class DeviceListener(Protocol):
    """Receiver of device output; the station implements it. Called from device threads."""

    def on_weight(self, weight: CapturedWeight) -> None:
        """Handle a captured stable weight."""

    def on_scan(self, scan: ScanRead) -> None:
        """Handle a code read."""

    def on_device_state(self, device: str, kind: str, state: str, reason: str) -> None:
        """Handle a device state change (ok, starting, stalled, disconnected, fault)."""


class Device(Protocol):
    """A running device driver with its own named thread."""

    id: str
    kind: str

    def start(self) -> None:
        """Start the device thread."""

    def stop(self) -> None:
        """Stop and join the device thread."""

    def command(self, name: str, args: dict[str, Any]) -> tuple[bool, str]:
        """Run a command such as zero or tare; return (ok, detail)."""
