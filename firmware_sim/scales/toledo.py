"""Toledo 8217 (polled single-byte commands) and Toledo continuous output simulators."""

from typing import Any

from firmware_sim.scales.base import ScaleSim
from firmware_sim.scales.physics import Snapshot

STX, CR = b"\x02", b"\r"
INCREMENT_BITS = {1: 0x08, 2: 0x10, 5: 0x18}  # status word A bits 3-4: x1, x2, x5


class Toledo8217Sim(ScaleSim):
    """8217: W weight, Z zero, T tare, C clear tare, E/F echo on/off; no terminators."""

    protocol = "toledo-8217"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.echo = False

    def weight_frame(self, snap: Snapshot) -> bytes:
        """Return `\\x02WW.WWW[N]\\r`, or `\\x02?<status>\\r` in motion, under zero or over."""
        value = snap.shown
        if snap.motion or snap.overload or snap.underload or value < 0:
            bits = 0x40 | snap.motion | (snap.overload << 1)
            bits |= (snap.underload or value < 0) << 2
            bits |= snap.at_zero << 4 | bool(snap.tare) << 5
            return STX + b"?" + bytes([bits]) + CR
        kg = self.unit == "kg"  # the 8217 tells the unit by its decimals: WW.WWW kg, WW.WW lb
        text = f"{value:0{6 if kg else 5}.{3 if kg else 2}f}"
        return STX + text.encode() + (b"N" if snap.tare else b"") + CR

    def on_bytes(self, data: bytes, now: float) -> None:
        """Each byte is a command; in echo mode other bytes come back."""
        for byte in data:
            char = bytes([byte])
            self.received.append(char)
            reply = self.answer(char, now)
            if reply:
                self.port.write(b"".join(reply))
            elif self.echo:
                self.port.write(char)

    def answer(self, command: bytes, now: float) -> list[bytes]:
        """Run one single-byte command."""
        if command == b"W":
            return [self.weight_frame(self.snapshot(now))]
        if command == b"Z":
            self.scale.zero(now)
        elif command == b"T":
            self.scale.set_tare(now)
        elif command == b"C":
            self.scale.clear_tare()
        elif command == b"E":
            self.echo = True
            return [STX + b"E" + CR]
        elif command == b"F":
            self.echo = False
        return []


def continuous_checksum(body: bytes) -> int:
    """Return the 7-bit two's complement of the byte sum (STX through CR)."""
    return -sum(body) & 0x7F


class ToledoContinuousSim(ScaleSim):
    """Toledo continuous output: streams status words, weight and tare with a checksum."""

    protocol = "toledo-continuous"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streaming = True

    def stream_frame(self, snap: Snapshot) -> bytes:
        """Return one 18-byte frame for the display state."""
        decimals = self.scale.decimals
        counts = round(snap.shown * 10**decimals)
        step = round(self.scale.division * 10**decimals)
        lead = int(str(step)[0]) if str(step)[0] in "125" else 1
        swa = 0x20 | INCREMENT_BITS[lead] | min(decimals + 2, 7)
        out_of_range = snap.overload or snap.underload or abs(counts) > 999_999
        swb = 0x20 | bool(snap.tare) | (counts < 0) << 1 | out_of_range << 2
        swb |= snap.motion << 3 | (self.unit == "kg") << 4
        tare = round(snap.tare * 10**decimals)
        body = STX + bytes([swa, swb, 0x20])
        body += f"{min(abs(counts), 999_999):06d}{min(tare, 999_999):06d}".encode() + CR
        return body + bytes([continuous_checksum(body)])
