"""What the serial drivers share: one named thread over a SerialLink, counters, start and stop."""

import threading
from typing import Any

from edge.devices.serial_link import SerialLink

JOIN_TIMEOUT_S = 3.0


class SerialThreadDevice:
    """Base of the scale and scanner drivers: `_run` loops on a thread named `<kind>-<id>`."""

    kind = ""
    id: str
    cfg: Any
    _counts: dict[str, int]
    _link: SerialLink
    _stop: threading.Event
    _thread: threading.Thread | None

    def _set_state(self, state: str, reason: str = "") -> None:
        """Report a state change (each driver decides how)."""
        raise NotImplementedError

    def _run(self) -> None:
        """The device loop (each driver's own)."""
        raise NotImplementedError

    @property
    def counters(self) -> dict[str, int]:
        """Return a snapshot of the driver's counters and the link's reconnects."""
        return {**self._counts, "reconnects": self._link.reconnects}

    def start(self) -> None:
        """Start the device thread."""
        self._set_state("starting", f"opening {self.cfg.port}")
        self._stop.clear()
        name = f"{self.kind}-{self.id}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the device thread, join it and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            self._thread = None
