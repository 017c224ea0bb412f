"""Serial (USB-CDC) hand scanner: terminated lines, AIM symbology prefixes, GS preserved."""

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from dockscan.config import ScannerConfig
from dockscan.logs import RateLimitedLog
from edge.devices.base import DeviceListener, ScanRead
from edge.devices.protocols.framing import LineFramer
from edge.devices.serial_device import SerialThreadDevice
from edge.devices.serial_link import LinkLost, SerialLink

logger = logging.getLogger(__name__)

TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
MAX_CODE = 4096
AIM_PREFIX = re.compile(r"^\]([A-Za-z])([0-9A-Za-z])")
AIM_SYMBOLOGIES = {
    "A": "code39",
    "C": "code128",
    "d": "datamatrix",
    "E": "ean13",
    "e": "gs1-databar",
    "F": "codabar",
    "G": "code93",
    "I": "itf",
    "L": "pdf417",
    "Q": "qrcode",
    "z": "aztec",
}


def split_aim(text: str) -> tuple[str, str]:
    """Return (symbology, text without prefix); no or unknown AIM prefix → "unknown"."""
    match = AIM_PREFIX.match(text)
    if not match:
        return "unknown", text
    letter, modifier = match.groups()
    symbology = AIM_SYMBOLOGIES.get(letter)
    if symbology is None:
        return "unknown", text
    if letter == "C" and modifier == "1":
        symbology = "gs1-128"
    elif letter == "E" and modifier == "4":
        symbology = "ean8"
    return symbology, text[3:]


def decode_code(payload: bytes) -> tuple[str, bool]:
    """Decode a scanned payload as UTF-8, or byte for byte as Latin-1; return (text, was_utf8)."""
    try:
        return payload.decode("utf-8"), True
    except UnicodeDecodeError:
        return payload.decode("latin-1"), False


class ScannerDevice(SerialThreadDevice):
    """A serial hand scanner on one named thread; see edge.devices.base.Device."""

    kind = "scanner"

    def __init__(
        self,
        cfg: ScannerConfig,
        listener: DeviceListener,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id, self.cfg, self.listener, self.clock = cfg.id, cfg, listener, clock
        self.terminator = TERMINATORS[cfg.terminator]
        self.state, self.reason = "", ""
        self._counts = dict.fromkeys(("scans", "empty", "bytes_dropped", "not_utf8"), 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = RateLimitedLog(logger, interval=10.0)
        self._link = SerialLink(cfg.port, baudrate=cfg.baudrate, on_change=self._set_state)

    def command(self, name: str, args: dict[str, Any]) -> tuple[bool, str]:
        """Scanners take no commands."""
        return False, f"scanner has no {name!r} command"

    def _run(self) -> None:
        """Open, read lines and reopen until stopped."""
        framer = LineFramer(self.terminator, max_len=MAX_CODE)
        while not self._stop.is_set():
            if not self._link.is_open:
                if not self._link.open_until(self._stop):
                    break
                framer = LineFramer(self.terminator, max_len=MAX_CODE)
            try:
                data = self._link.read()
            except LinkLost:
                continue
            now = self.clock()
            for frame in framer.feed(data):
                try:
                    self._handle(frame[: -len(self.terminator)], now)
                except Exception as exc:  # a driver bug must not end the device thread
                    logger.exception("%s: unexpected error handling %r", self.id, frame)
                    self._set_state("fault", f"driver error: {type(exc).__name__}")
            if framer.dropped:
                self._counts["bytes_dropped"] += framer.dropped
                self._log.warning(
                    "long", "%s: dropped %d bytes without a terminator", self.id, framer.dropped
                )
                framer.dropped = 0
        self._link.close()

    def _handle(self, payload: bytes, now: float) -> None:
        """Turn one terminated line into a ScanRead."""
        if self.cfg.terminator == "cr" and payload.startswith(b"\n"):
            payload = payload[1:]  # a CR LF scanner configured as CR
        elif self.cfg.terminator == "lf" and payload.endswith(b"\r"):
            payload = payload[:-1]
        if not payload:
            self._counts["empty"] += 1
            return
        text, utf8 = decode_code(payload)
        if not utf8:
            self._counts["not_utf8"] += 1
            self._log.warning("latin1", "%s: code is not UTF-8, kept as Latin-1: %r", self.id, text)
        symbology, text = split_aim(text)
        self._counts["scans"] += 1
        read = ScanRead(
            device=self.id, source_kind="scanner", text=text, symbology=symbology, t=now
        )
        try:
            self.listener.on_scan(read)
        except Exception:
            logger.exception("%s: listener failed in on_scan", self.id)

    def _set_state(self, state: str, reason: str) -> None:
        """Tell the listener about a state change."""
        if (state, reason) == (self.state, self.reason) or (state == "ok" == self.state):
            return
        self.state, self.reason = state, reason
        try:
            self.listener.on_device_state(self.id, self.kind, state, reason)
        except Exception:
            logger.exception("%s: listener failed in on_device_state", self.id)
