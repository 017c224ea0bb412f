"""Shared shapes of scale protocols: parsed readings and replies, unit conversion, the interface."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from dockscan.errors import FrameError
from edge.devices.protocols.framing import Framer

KG_PER_UNIT: dict[str, Decimal] = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "mg": Decimal("0.000001"),
    "t": Decimal(1000),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}


def check_unit(unit: str, frame: bytes) -> str:
    """Return `unit` if it is a weight unit we can normalise, else raise FrameError."""
    if unit.lower() not in KG_PER_UNIT:
        raise FrameError(f"unknown unit {unit!r} in {frame!r}")
    return unit


def check_number(text: str, frame: bytes) -> str:
    """Return `text` if it is a plain decimal number (sign, digits, one point), else raise."""
    body = text[1:] if text[:1] in "+-" else text
    digits = body.replace(".", "", 1)
    if not digits or not digits.isascii() or not digits.isdigit():
        raise FrameError(f"not a number {text!r} in {frame!r}")
    return text


def to_kg(value: str, unit: str) -> float:
    """Convert a device decimal string in `unit` to kg (exact decimal product, then float)."""
    try:
        return float(Decimal(value) * KG_PER_UNIT[unit.lower()])
    except (InvalidOperation, KeyError) as exc:
        raise FrameError(f"cannot convert {value!r} {unit!r} to kg") from exc


@dataclass(frozen=True)
class Reading:
    """A weight or status report; `value` is the device's decimal string, None if status only."""

    value: str | None
    unit: str
    stable: bool
    raw: bytes
    overload: bool = False
    underload: bool = False
    net: bool = False
    at_zero: bool = False
    error: str = ""

    @property
    def kg(self) -> float | None:
        """Return the value in kg, or None when the frame carried no weight."""
        return None if self.value is None else to_kg(self.value, self.unit)

    @property
    def fault(self) -> str:
        """Return a fault reason (overload, underload, device error) or an empty string."""
        if self.overload:
            return "overload"
        if self.underload:
            return "underload"
        return self.error


@dataclass(frozen=True)
class Reply:
    """An answer to a command (zero, tare, identify) or an error line, not a weight."""

    command: str
    status: str
    detail: str
    raw: bytes


Parsed = Reading | Reply


class ScaleProtocol(ABC):
    """One wire protocol: framing, parsing and the bytes of each request."""

    name: ClassVar[str]
    poll_request: ClassVar[bytes | None] = None
    stream_request: ClassVar[bytes | None] = None
    commands: ClassVar[dict[str, bytes]] = {}
    acknowledged: ClassVar[bool] = True

    @abstractmethod
    def framer(self) -> Framer:
        """Return a new framer that splits this protocol's byte stream into frames."""

    @abstractmethod
    def parse(self, frame: bytes) -> Parsed:
        """Parse one frame into a Reading or Reply, or raise FrameError."""

    def match_reply(self, command: str, parsed: Parsed) -> tuple[bool, str] | None:
        """Return (ok, detail) if `parsed` answers `command`, or None if it is unrelated."""
        return None
