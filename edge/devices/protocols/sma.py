"""SMA (Scale Manufacturers Association) polled protocol: `\\nW\\r` → 20-byte reply."""

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

ERRORS = {"E": "zero error", "I": "initial zero error", "T": "tare error"}


class Sma(ScaleProtocol):
    """SMA: LF <status><range><gross/net><motion><reserved><weight:10><unit:3> CR."""

    name = "sma"
    poll_request = b"\nW\r"
    commands: ClassVar[dict[str, bytes]] = {"zero": b"\nZ\r", "tare": b"\nT\r"}
    length = 20

    def framer(self) -> Framer:
        """Frames run from LF to CR."""
        return DelimitedFramer(b"\n", b"\r", max_len=32)

    def parse(self, frame: bytes) -> Parsed:
        """Parse one SMA reply."""
        if frame == b"\n?\r":
            return Reply("?", "", "unknown command", frame)
        if len(frame) != self.length or frame[:1] != b"\n" or frame[-1:] != b"\r":
            raise FrameError(f"SMA replies are 20 bytes LF..CR: {frame!r}")
        try:
            text = frame[1:-1].decode("ascii")
        except UnicodeDecodeError:
            raise FrameError(f"non-ASCII bytes in {frame!r}") from None
        status, rng, kind, motion = text[0], text[1], text[2], text[3]
        weight, unit = text[5:15].strip(), text[15:18].strip()
        if status not in " ZOUEIT" or not rng.isdigit() or kind not in "GNTgnt":
            raise FrameError(f"bad status, range or kind in {frame!r}")
        if motion not in " M":
            raise FrameError(f"bad motion flag in {frame!r}")
        check_unit(unit, frame)
        base = {"unit": unit, "raw": frame, "net": kind in "Nn", "at_zero": status == "Z"}
        if status in ERRORS or (status in "OU" and set(weight) <= {"-", " "}):
            return Reading(
                None,
                stable=False,
                overload=status == "O",
                underload=status == "U",
                error=ERRORS.get(status, ""),
                **base,
            )
        value = check_number(weight, frame)
        return Reading(
            value, stable=motion != "M", overload=status == "O", underload=status == "U", **base
        )

    def match_reply(self, command: str, parsed: Parsed) -> tuple[bool, str] | None:
        """The reply to Z or T is the next frame: a weight, an error status, or `?`."""
        if isinstance(parsed, Reply):
            return False, parsed.detail
        if parsed.error:
            return False, parsed.error
        return True, f"{parsed.value} {parsed.unit}"
