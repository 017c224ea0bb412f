"""CAS (streamed), SMA (polled, LF..CR) and Avery Weigh-Tronix NCI (polled, LF..ETX) simulators."""

from typing import Any

from firmware_sim.scales.base import ScaleSim
from firmware_sim.scales.physics import Snapshot


class CasSim(ScaleSim):
    """CAS: streams `ST|US|OL,GS|NT,<sign><7 chars><unit>` lines."""

    protocol = "cas"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streaming = True

    def stream_frame(self, snap: Snapshot) -> bytes:
        """Return one 18-byte CAS line."""
        header = "OL" if snap.overload or snap.underload else "US" if snap.motion else "ST"
        sign = "-" if snap.shown < 0 else "+"
        data = self.scale.fmt(abs(snap.shown)).zfill(7)
        kind = "NT" if snap.tare else "GS"
        return f"{header},{kind},{sign}{data}{self.unit}\r\n".encode()


class SmaSim(ScaleSim):
    """SMA: `\\nW\\r`, `\\nZ\\r`, `\\nT\\r`, `\\nH\\r`, `\\nR\\r`; unknown → `\\n?\\r`."""

    protocol = "sma"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._repeat_high = False

    def weight_frame(self, snap: Snapshot, status: str = "", high: bool = False) -> bytes:
        """Return the 20-byte reply for the display state."""
        if not status:
            status = "O" if snap.overload else "U" if snap.underload else ""
            status = status or ("Z" if snap.at_zero and not snap.tare else " ")
        kind = "N" if snap.tare else "G"
        kind = kind.lower() if high else kind
        motion = "M" if snap.motion else " "
        if status in "EIT" and status != " ":
            weight = "-" * 10
        else:
            weight = f"{snap.shown + 0.0:10.{self.scale.decimals + high}f}"
        return f"\n{status}1{kind}{motion} {weight}{self.unit:<3}\r".encode()

    def stream_frame(self, snap: Snapshot) -> bytes:
        """Repeat mode (`R`): stream weight replies."""
        return self.weight_frame(snap, high=self._repeat_high)

    def on_bytes(self, data: bytes, now: float) -> None:
        """Commands run from LF to CR."""
        self._buf += data
        while b"\r" in self._buf:
            command, self._buf = self._buf.split(b"\r", 1)
            command = command[command.rfind(b"\n") + 1 :] if b"\n" in command else b"?"
            self.received.append(command)
            for reply in self.answer(command, now):
                self.port.write(reply)

    def answer(self, command: bytes, now: float) -> list[bytes]:
        """Reply to one SMA command."""
        self.streaming = False
        if command in (b"W", b"H"):
            return [self.weight_frame(self.snapshot(now), high=command == b"H")]
        if command == b"Z":
            result = self.scale.zero(now)
            return [self.weight_frame(self.snapshot(now), "" if result == "ok" else "E")]
        if command == b"T":
            result = self.scale.set_tare(now)
            return [self.weight_frame(self.snapshot(now), "" if result == "ok" else "T")]
        if command == b"R":
            self.streaming = True
            return []
        return [b"\n?\r"]


class NciSim(ScaleSim):
    """NCI SCP-02: `W\\r` weight and status, `S\\r` status, `Z\\r` zero, `U\\r` units."""

    protocol = "nci"

    def status_line(self, snap: Snapshot) -> bytes:
        """Return `S<byte1><byte2>`: motion/at-zero, then under/over capacity."""
        first = 0x30 | snap.motion | snap.at_zero << 1
        second = 0x30 | (snap.underload or snap.shown < 0) | snap.overload << 1
        return b"S" + bytes([first, second])

    def answer(self, command: bytes, now: float) -> list[bytes]:
        """Reply to one NCI command."""
        command = command.strip(b"\n")
        if command == b"Z":
            self.scale.zero(now)
        elif command == b"U":
            self.unit = "kg" if self.unit.lower() == "lb" else "lb"
        elif command not in (b"W", b"S"):
            return [b"\n?\r\x03"]
        snap = self.snapshot(now)
        status = self.status_line(snap)
        hidden = snap.motion or snap.overload or snap.underload or snap.shown < 0
        if command != b"W" or hidden:
            return [b"\n" + status + b"\r\x03"]
        weight = self.scale.fmt(snap.shown).zfill(6) + self.unit.upper()
        return [b"\n" + weight.encode() + b"\r\n" + status + b"\r\x03"]
