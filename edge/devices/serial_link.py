"""A serial port that reopens itself: any pyserial URL or path, with backoff and reasons."""

import logging
import threading
from collections.abc import Callable

import serial

from dockscan.errors import DeviceError

logger = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 0.5  # keeps resume well within 2 s of the port returning


class LinkLost(DeviceError):
    """The port closed or failed; the reason says why."""


class SerialLink:
    """Open, read and write one serial port; reopen with backoff after it goes away.

    `on_change(state, reason)` is called with "ok" when the port opens and "disconnected"
    when it fails to open or is lost, only when the state changes.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        read_timeout: float = 0.05,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self.url = url
        self.settings: dict[str, float | int | str] = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
            "timeout": read_timeout,
        }
        if not url.startswith("rfc2217://"):  # pyserial's RFC 2217 client rejects write_timeout
            self.settings["write_timeout"] = 1.0
        self.on_change = on_change
        self.reconnects = 0
        self.state = "closed"
        self._port: serial.SerialBase | None = None
        self._opened_before = False
        self._write_lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Return whether the port is open now."""
        return self._port is not None

    def open_until(self, stop: threading.Event) -> bool:
        """Try to open the port, backing off, until it opens (True) or `stop` is set (False)."""
        delay = FIRST_BACKOFF_S
        while not stop.is_set():
            try:
                port = serial.serial_for_url(self.url, do_not_open=True, **self.settings)
                port.open()
            except (serial.SerialException, OSError, ValueError, NotImplementedError) as exc:
                self._set_state("disconnected", f"cannot open {self.url}: {_reason(exc)}")
                stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            self._port = port
            if self._opened_before:
                self.reconnects += 1
            self._opened_before = True
            self._set_state("ok", f"open {self.url}")
            return True
        return False

    def read(self) -> bytes:
        """Read what is waiting (or wait up to the read timeout); raise LinkLost on failure."""
        port = self._require_port()
        try:
            return port.read(port.in_waiting or 1)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise self._lost(exc) from None

    def write(self, data: bytes) -> None:
        """Write all of `data`; raise LinkLost on failure."""
        port = self._require_port()
        try:
            with self._write_lock:
                port.write(data)
                port.flush()
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise self._lost(exc) from None

    def close(self, reason: str = "closed") -> None:
        """Close the port (if open) and report the reason."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                logger.debug("error while closing %s", self.url, exc_info=True)
        self._set_state("closed" if reason == "closed" else "disconnected", reason)

    def _require_port(self) -> serial.SerialBase:
        """Return the open port or raise LinkLost."""
        if self._port is None:
            raise LinkLost(f"{self.url} is not open")
        return self._port

    def _lost(self, exc: BaseException) -> LinkLost:
        """Close after a failure and return the LinkLost to raise."""
        reason = f"{self.url} lost: {_reason(exc)}"
        self.close(reason)
        return LinkLost(reason)

    def _set_state(self, state: str, reason: str) -> None:
        """Record a state and tell the owner when it changes."""
        if state == self.state:
            return
        self.state = state
        (logger.warning if state == "disconnected" else logger.info)("%s: %s", state, reason)
        if self.on_change is not None and state != "closed":
            self.on_change(state, reason)


def _reason(exc: BaseException) -> str:
    """Return a short human reason for a serial failure."""
    return str(exc) or type(exc).__name__
