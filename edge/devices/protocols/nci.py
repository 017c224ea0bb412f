"""Avery Weigh-Tronix NCI SCP-01/02: `W\\r` → `\\n01.250LB\\r\\nS00\\r\\x03`."""

import re
from typing import ClassVar

from dockscan.errors import FrameError
from edge.devices.protocols.base import (
    Parsed,
    Reading,
    Reply,
    ScaleProtocol,
    check_number,
    check_unit,
)
from edge.devices.protocols.framing import DelimitedFramer, Framer

WEIGHT = re.compile(r"^(-?[0-9.]+) ?([A-Za-z]{1,3})$")


class Nci(ScaleProtocol):
    """NCI: optional weight line, then a status line of two or three bytes based at '0'."""

    name = "nci"
    poll_request = b"W\r"
    commands: ClassVar[dict[str, bytes]] = {"zero": b"Z\r"}

    def framer(self) -> Framer:
        """Frames run from LF to ETX (they contain CR LF inside)."""
        return DelimitedFramer(b"\n", b"\x03", max_len=48, resync=False)

    def parse(self, frame: bytes) -> Parsed:
        """Parse one NCI reply."""
        if frame == b"\n?\r\x03":
            return Reply("?", "", "unknown command", frame)
        if len(frame) < 4 or frame[:1] != b"\n" or frame[-2:] != b"\r\x03":
            raise FrameError(f"NCI replies run LF..CR ETX: {frame!r}")
        lines = frame[1:-2].split(b"\r\n")
        if len(lines) > 2:
            raise FrameError(f"too many lines in {frame!r}")
        flags = _status(lines[-1], frame)
        value, unit = None, ""
        if len(lines) == 2:
            match = WEIGHT.match(lines[0].decode("ascii", "replace"))
            if not match:
                raise FrameError(f"bad weight line in {frame!r}")
            value = check_number(match.group(1), frame)
            unit = check_unit(match.group(2), frame)
        return Reading(value, unit, raw=frame, **flags)

    def match_reply(self, command: str, parsed: Parsed) -> tuple[bool, str] | None:
        """The reply to Z is a status frame: ok when the scale reports centre of zero."""
        if isinstance(parsed, Reply):
            return False, parsed.detail
        if parsed.value is not None:
            return None
        if parsed.at_zero and not parsed.fault:
            return True, "at zero"
        return False, parsed.fault or ("in motion" if not parsed.stable else "not at zero")


def _status(line: bytes, frame: bytes) -> dict:
    """Decode the status line (`S` optional for SCP-01) into Reading flags."""
    body = line[1:] if line[:1] == b"S" else line
    codes = [b - 0x30 for b in body]
    if len(codes) not in (2, 3) or any(not 0 <= c <= 0x4F for c in codes):
        raise FrameError(f"bad status line {line!r} in {frame!r}")
    if (len(codes) == 3) != bool(codes[1] & 0x40):
        raise FrameError(f"status continuation bit does not match length in {frame!r}")
    first, second = codes[0], codes[1]
    errors = []
    if first & 0x0C:
        errors.append("RAM/EEPROM error")
    if second & 0x0C:
        errors.append("ROM/calibration error")
    return {
        "stable": not first & 0x01,
        "at_zero": bool(first & 0x02),
        "underload": bool(second & 0x01),
        "overload": bool(second & 0x02),
        "error": ", ".join(errors),
    }
