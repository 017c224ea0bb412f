"""Toledo 8217 ECR (polled, STX..CR) and Toledo continuous output (streamed, checksummed)."""

from typing import ClassVar

from dockscan.errors import FrameError
from edge.devices.protocols.base import Parsed, Reading, Reply, ScaleProtocol, check_number
from edge.devices.protocols.framing import DelimitedFramer, FixedFramer, Framer

STX, CR = b"\x02", b"\r"


class Toledo8217(ScaleProtocol):
    """Toledo 8217: single-byte commands; `\\x02WW.WWW\\r` (kg) or `\\x02?<status>\\r`."""

    name = "toledo-8217"
    poll_request = b"W"
    commands: ClassVar[dict[str, bytes]] = {"zero": b"Z", "tare": b"T", "clear_tare": b"C"}
    acknowledged = False

    def framer(self) -> Framer:
        """Frames run from STX to CR."""
        return DelimitedFramer(STX, CR, max_len=32)

    def parse(self, frame: bytes) -> Parsed:
        """Parse a weight, status or echo frame."""
        if len(frame) < 3 or frame[:1] != STX or frame[-1:] != CR:
            raise FrameError(f"not an STX..CR frame: {frame!r}")
        body = frame[1:-1]
        if body == b"E":
            return Reply("E", "A", "echo on", frame)
        if body[:1] == b"?":
            if len(body) != 2:
                raise FrameError(f"status frame must carry one byte: {frame!r}")
            return _status(body[1] & 0x7F, frame)
        net = body.endswith(b"N")
        text = body[:-1] if net else body
        try:
            value = text.decode("ascii").strip()
        except UnicodeDecodeError:
            raise FrameError(f"non-ASCII weight in {frame!r}") from None
        check_number(value, frame)
        decimals = len(value.partition(".")[2])
        if "." not in value or decimals not in (2, 3) or value[0] in "+-":
            raise FrameError(f"weight must look like WW.WW (lb) or WW.WWW (kg): {frame!r}")
        return Reading(value, "kg" if decimals == 3 else "lb", stable=True, raw=frame, net=net)


def _status(bits: int, frame: bytes) -> Reading:
    """Decode an 8217 status byte (bit 6 is always set)."""
    if not bits & 0x40:
        raise FrameError(f"status byte without bit 6: {frame!r}")
    return Reading(
        None,
        "",
        stable=not bits & 0x01,
        raw=frame,
        overload=bool(bits & 0x02),
        underload=bool(bits & 0x04),
        net=bool(bits & 0x20),
        at_zero=bool(bits & 0x10),
        error="outside zero range" if bits & 0x08 else "",
    )


def continuous_checksum(body: bytes) -> int:
    """Return the 7-bit two's complement of the sum of `body` (STX through CR)."""
    return -sum(body) & 0x7F


class ToledoContinuous(ScaleProtocol):
    """Toledo continuous output: STX, three status words, weight, tare, CR, checksum."""

    name = "toledo-continuous"
    length = 18

    def framer(self) -> Framer:
        """Frames are 18 bytes: STX at 0, CR at 16, checksum at 17."""
        return FixedFramer(STX, CR, end_at=16, length=self.length)

    def parse(self, frame: bytes) -> Parsed:
        """Parse one continuous-output frame and check its checksum."""
        if len(frame) != self.length or frame[:1] != STX or frame[16:17] != CR:
            raise FrameError(f"not a continuous-output frame: {frame!r}")
        if continuous_checksum(frame[:17]) != frame[17] & 0x7F:
            raise FrameError(f"checksum mismatch in {frame!r}")
        swa, swb, swc = frame[1], frame[2], frame[3]
        if not (swa & swb & swc & 0x20):
            raise FrameError(f"status words must have bit 5 set: {frame!r}")
        digits = frame[4:10]
        if not (digits.isdigit() and frame[10:16].isdigit()):
            raise FrameError(f"weight and tare must be digits: {frame!r}")
        value = _place_point(digits.decode("ascii"), swa & 0x07)
        negative = bool(swb & 0x02)
        out_of_range = bool(swb & 0x04)
        return Reading(
            ("-" + value) if negative else value,
            "kg" if swb & 0x10 else "lb",
            stable=not swb & 0x08,
            raw=frame,
            overload=out_of_range and not negative,
            underload=out_of_range and negative,
            net=bool(swb & 0x01),
            error="power-up not zeroed" if swb & 0x40 else "",
        )


def _place_point(digits: str, position: int) -> str:
    """Render six weight digits with the decimal position code of status word A."""
    if position <= 2:
        return str(int(digits + "0" * (2 - position)))
    decimals = position - 2
    whole = digits[:-decimals].lstrip("0") or "0"
    return f"{whole}.{digits[-decimals:]}"
