"""A simulated serial hand scanner that types codes with a terminator and an AIM prefix."""

import random
from pathlib import Path

from firmware_sim.codes import SimCode, random_code
from firmware_sim.sim_thread import SerialSim

TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
AIM_IDS = {
    "gs1-128": "]C1",
    "code128": "]C0",
    "datamatrix": "]d2",
    "qrcode": "]Q1",
    "ean13": "]E0",
    "itf": "]I0",
    "code39": "]A0",
    "pdf417": "]L0",
}


class ScannerSim(SerialSim):
    """Types codes on a pty like a USB-CDC scanner; GS and other control bytes pass through."""

    thread_name = "sim-scanner"

    def __init__(
        self,
        link: str | Path,
        *,
        terminator: str = "cr",
        aim: bool = True,
        tcp_port: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(link, tcp_port)
        if terminator not in TERMINATORS:
            raise ValueError(f"terminator must be one of {', '.join(TERMINATORS)}")
        self.terminator = TERMINATORS[terminator]
        self.aim = aim
        self.typed: list[bytes] = []  # every line typed, terminator included
        self._rng = random.Random(seed)

    def encode(self, text: str, symbology: str = "") -> bytes:
        """Return the bytes the scanner sends for one code."""
        prefix = AIM_IDS.get(symbology, "") if self.aim else ""
        return (prefix + text).encode("utf-8") + self.terminator

    def type_text(self, text: str, symbology: str = "") -> bytes:
        """Type one code (with AIM prefix when enabled and known); return the bytes sent."""
        line = self.encode(text, symbology)
        self.send(line)
        self.typed.append(line)
        return line

    def type_code(self, code: SimCode) -> bytes:
        """Type a generated code."""
        return self.type_text(code.text, code.symbology)

    def type_random(self, valid: bool = True) -> SimCode:
        """Generate and type a random parcel code; return it."""
        code = random_code(self._rng, valid)
        self.type_code(code)
        return code

    def on_bytes(self, data: bytes, now: float) -> None:
        """Scanners ignore what the host sends."""
