"""CAS streaming output: `ST,GS,+0001.23kg\\r\\n` (18 bytes) or with a device field (22 bytes)."""

import re

from dockscan.errors import FrameError
from edge.devices.protocols.base import Parsed, Reading, ScaleProtocol, check_number, check_unit
from edge.devices.protocols.framing import Framer, LineFramer

DATA = re.compile(r"^([+-]?[0-9. ]+?) ?([A-Za-z]{1,3})$")


class Cas(ScaleProtocol):
    """CAS: ST stable, US unstable, OL overload; GS gross, NT net. Streamed only."""

    name = "cas"

    def framer(self) -> Framer:
        """Split on CR LF."""
        return LineFramer(b"\r\n", max_len=64)

    def parse(self, frame: bytes) -> Parsed:
        """Parse one CAS line."""
        if not frame.endswith(b"\r\n"):
            raise FrameError(f"no CR LF at end of {frame!r}")
        try:
            fields = frame[:-2].decode("ascii").split(",")
        except UnicodeDecodeError:
            raise FrameError(f"non-ASCII bytes in {frame!r}") from None
        if len(fields) not in (3, 4) or fields[0] not in ("ST", "US", "OL"):
            raise FrameError(f"expected ST|US|OL,GS|NT,[id,]data: {frame!r}")
        if fields[1] not in ("GS", "NT") or (len(fields) == 4 and len(fields[2]) != 2):
            raise FrameError(f"bad weight kind or device field in {frame!r}")
        net = fields[1] == "NT"
        if fields[0] == "OL":
            return Reading(None, "", stable=False, raw=frame, overload=True, net=net)
        match = DATA.match(fields[-1])
        if len(fields[-1]) not in (10, 11) or not match:
            raise FrameError(f"bad data field {fields[-1]!r} in {frame!r}")
        value = check_number(match.group(1).replace(" ", ""), frame)
        unit = check_unit(match.group(2), frame)
        return Reading(value, unit, stable=fields[0] == "ST", raw=frame, net=net)
