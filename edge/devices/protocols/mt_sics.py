"""Mettler Toledo MT-SICS level 0/1: CR LF lines such as `S S     100.00 g`."""

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
from edge.devices.protocols.framing import Framer, LineFramer

ERRORS = {"ES": "syntax error", "ET": "transmission error", "EL": "logical error"}
REPLY_IDS = {"Z", "ZI", "T", "TI", "TA", "TAC", "@", "SR", "I0", "I1", "I2", "I3", "I4"}
STATUSES = {"A", "B", "S", "D", "I", "L", "+", "-"}
FAILURES = {
    "I": "busy or not stable in time",
    "L": "cannot execute",
    "+": "above the allowed range",
    "-": "below the allowed range",
}


class MtSics(ScaleProtocol):
    """MT-SICS: SI polls, SIR streams, Z zeroes, T tares; replies are CR LF lines."""

    name = "mt-sics"
    poll_request = b"SI\r\n"
    stream_request = b"SIR\r\n"
    commands: ClassVar[dict[str, bytes]] = {
        "zero": b"Z\r\n",
        "tare": b"T\r\n",
        "clear_tare": b"TAC\r\n",
    }

    def framer(self) -> Framer:
        """Split on CR LF."""
        return LineFramer(b"\r\n", max_len=128)

    def parse(self, frame: bytes) -> Parsed:
        """Parse one MT-SICS response line."""
        if not frame.endswith(b"\r\n"):
            raise FrameError(f"no CR LF at end of {frame!r}")
        try:
            line = frame[:-2].decode("ascii")
        except UnicodeDecodeError:
            raise FrameError(f"non-ASCII bytes in {frame!r}") from None
        if not line.isprintable():
            raise FrameError(f"control characters in {frame!r}")
        parts = line.split(None, 2)
        if not parts:
            raise FrameError("empty line")
        ident = parts[0]
        if ident in ERRORS and len(parts) == 1:
            return Reply(ident, "", ERRORS[ident], frame)
        if len(parts) < 2 or parts[1] not in STATUSES:
            raise FrameError(f"no valid status in {frame!r}")
        status, rest = parts[1], parts[2] if len(parts) > 2 else ""
        if ident == "S":
            return _weight_reply(status, rest, frame)
        if ident not in REPLY_IDS:
            raise FrameError(f"unknown reply {ident!r} in {frame!r}")
        return Reply(ident, status, rest, frame)

    def match_reply(self, command: str, parsed: Parsed) -> tuple[bool, str] | None:
        """Match Z/T/TAC replies (and ES/ET/EL errors) to the pending command."""
        if not isinstance(parsed, Reply):
            return None
        if parsed.command in ERRORS:
            return False, parsed.detail
        expected = {"zero": ("Z", "ZI"), "tare": ("T", "TI"), "clear_tare": ("TAC",)}
        if parsed.command not in expected.get(command, ()):
            return None
        if parsed.status in ("A", "S", "D"):
            return True, f"{parsed.command} {parsed.status} {parsed.detail}".strip()
        return False, FAILURES.get(parsed.status, f"status {parsed.status}")


def _weight_reply(status: str, rest: str, frame: bytes) -> Parsed:
    """Parse the part after `S` of a weight reply."""
    if status in ("S", "D"):
        fields = rest.split()
        if len(fields) != 2:
            raise FrameError(f"expected value and unit in {frame!r}")
        value = check_number(fields[0], frame)
        unit = check_unit(fields[1], frame)
        return Reading(value, unit, stable=status == "S", raw=frame)
    if rest:
        raise FrameError(f"unexpected text after status in {frame!r}")
    if status == "+":
        return Reading(None, "", stable=False, raw=frame, overload=True)
    if status == "-":
        return Reading(None, "", stable=False, raw=frame, underload=True)
    if status == "I":
        return Reply("S", "I", FAILURES["I"], frame)
    raise FrameError(f"status {status!r} is not a weight reply in {frame!r}")
