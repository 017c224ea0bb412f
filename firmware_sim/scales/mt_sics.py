"""MT-SICS balance simulator: S, SI, SIR, Z, ZI, T, TA, TAC, @, I0-I4; ES/EL errors."""

from typing import Any

from firmware_sim.scales.base import ScaleSim
from firmware_sim.scales.physics import Snapshot

STABILITY_TIMEOUT_S = 1.5
COMMAND_LEVELS = {
    **dict.fromkeys(("I0", "I1", "I2", "I3", "I4", "S", "SI", "SIR", "Z", "ZI", "@"), 0),
    **dict.fromkeys(("T", "TA", "TAC"), 1),
}


class MtSicsSim(ScaleSim):
    """Answers MT-SICS commands line by line (CR LF) and streams on SIR."""

    protocol = "mt-sics"
    terminator = b"\r\n"
    serial_number = "0123456789"
    model = "T72XW Standard 60.00 kg"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: list[tuple[str, float]] = []  # commands that wait for stability

    def weight_line(self, ident: str, snap: Snapshot) -> bytes:
        """Return `<ident> S|D <value> <unit>` or the overload/underload reply."""
        if snap.overload:
            return f"{ident} +\r\n".encode()
        if snap.underload:
            return f"{ident} -\r\n".encode()
        status = "D" if snap.motion else "S"
        return f"{ident} {status} {self.scale.fmt(snap.shown, 10)} {self.unit}\r\n".encode()

    def stream_frame(self, snap: Snapshot) -> bytes:
        """SIR output: one weight line per tick."""
        return self.weight_line("S", snap)

    def answer(self, command: bytes, now: float) -> list[bytes]:
        """Reply to one MT-SICS command."""
        parts = command.decode("ascii", "replace").split()
        name = parts[0] if parts else ""
        snap = self.snapshot(now)
        if name in ("S", "SI", "SR", "@"):
            self.streaming = False
        if name in ("S", "Z", "T"):
            self._waiting.append((name, now + STABILITY_TIMEOUT_S))
            return []
        if name == "SI":
            return [self.weight_line("S", snap)]
        if name == "SIR":
            self.streaming = True
            return []
        if name == "ZI":
            return [self._zero("ZI", now, immediate=True)]
        if name == "TA":
            return [self._tare_preset(parts)]
        if name == "TAC":
            self.scale.clear_tare()
            return [b"TAC A\r\n"]
        if name in ("@", "I4"):
            if name == "@":
                self.scale.clear_tare()
            return [f'I4 A "{self.serial_number}"\r\n'.encode()]
        if name == "I0":
            last = len(COMMAND_LEVELS) - 1
            return [
                f'I0 {"A" if i == last else "B"} {level} "{cmd}"\r\n'.encode()
                for i, (cmd, level) in enumerate(COMMAND_LEVELS.items())
            ]
        if name in ("I1", "I2", "I3"):
            text = {"I1": '"1" "" "" "" ""', "I2": f'"{self.model}"', "I3": '"1.0.0"'}[name]
            return [f"{name} A {text}\r\n".encode()]
        return [b"ES\r\n"]

    def on_tick(self, now: float) -> None:
        """Answer waiting S/Z/T commands once stable, or with `I` after the timeout."""
        if self._waiting:
            snap = self.snapshot(now)
            still: list[tuple[str, float]] = []
            for name, deadline in self._waiting:
                if snap.motion and now < deadline:
                    still.append((name, deadline))
                elif snap.motion:
                    self.port.write(f"{name} I\r\n".encode())
                elif name == "S":
                    self.port.write(self.weight_line("S", snap))
                elif name == "Z":
                    self.port.write(self._zero("Z", now))
                else:
                    self.port.write(self._tare("T", now))
            self._waiting = still
        super().on_tick(now)

    def _zero(self, name: str, now: float, immediate: bool = False) -> bytes:
        """Zero and return `Z A`, `ZI S|D`, or a failure reply."""
        result = self.scale.zero(now)
        if result == "range":
            return f"{name} {'+' if self.scale.snapshot(now).gross > 0 else '-'}\r\n".encode()
        if result == "motion":
            return f"{name} I\r\n".encode()
        return f"{name} {'S' if immediate else 'A'}\r\n".encode()

    def _tare(self, name: str, now: float) -> bytes:
        """Tare and return `T S <tare> <unit>` or a failure reply."""
        result = self.scale.set_tare(now)
        if result != "ok":
            return f"{name} {'I' if result == 'motion' else '-'}\r\n".encode()
        return f"{name} S {self.scale.fmt(self.scale.tare, 10)} {self.unit}\r\n".encode()

    def _tare_preset(self, parts: list[str]) -> bytes:
        """Handle `TA` (query) and `TA <value> <unit>` (preset)."""
        if len(parts) == 3:
            try:
                self.scale.tare = float(parts[1])
            except ValueError:
                return b"TA L\r\n"
        return f"TA A {self.scale.fmt(self.scale.tare, 10)} {self.unit}\r\n".encode()
