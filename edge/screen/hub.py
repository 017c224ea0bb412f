"""What the station screen shows, kept in memory and versioned so SSE clients can wait on it."""

import json
import threading
import time
from typing import Any

from dockscan.events import DeviceState, ParcelEvent
from dockscan.ids import iso_ms, utcnow

MAX_CODE_CHARS = 80


def printable(text: str) -> str:
    """Make control characters visible (GS as <GS>) and cap the length (the page escapes HTML)."""
    out = "".join(
        "<GS>" if c == "\x1d" else f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c
        for c in text[: MAX_CODE_CHARS * 2]
    )
    return out if len(out) <= MAX_CODE_CHARS else out[: MAX_CODE_CHARS - 1] + "…"


def sse_json(data: dict[str, Any]) -> str:
    """Serialise for an SSE data line: one line, ASCII, with <, > and & escaped as well."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class ScreenHub:
    """Thread-safe screen state: the last parcel, devices, broker link and outbox depth."""

    def __init__(self, station: str, dock: str) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._state: dict[str, Any] = {
            "station": station,
            "dock": dock,
            "last": None,
            "devices": {},
            "link": {"connected": False},
            "outbox": {"depth": 0, "oldest_age_s": None},
            "counts": {},
        }

    def _update(self, **changes: Any) -> None:
        """Apply changes and wake every waiting client."""
        with self._cond:
            self._state.update(changes)
            self._version += 1
            self._cond.notify_all()

    def captured(self, event: ParcelEvent) -> None:
        """Show a parcel the outbox has committed."""
        codes = event.barcodes
        main = next((b for b in codes if b.check_ok is not False), codes[0] if codes else None)
        counts = dict(self._state["counts"])
        counts[event.outcome.value] = counts.get(event.outcome.value, 0) + 1
        last = {
            "outcome": event.outcome.value,
            "code": printable(main.text) if main else "",
            "kind": main.kind if main else "",
            "codes": len(codes),
            "weight": f"{event.weight.value:.3f} kg" if event.weight else "",
            "flags": event.flags,
            "seq": event.seq,
            "ts": iso_ms(event.ts),
            "shown_at": time.time(),
        }
        self._update(last=last, counts=counts)

    def refused(self, outcome: str, reason: str) -> None:
        """Show that a parcel could NOT be captured (outbox full or unwritable)."""
        last = {
            "outcome": "NOT_CAPTURED",
            "code": "",
            "kind": "",
            "codes": 0,
            "weight": "",
            "flags": [outcome],
            "seq": None,
            "ts": iso_ms(utcnow()),
            "reason": printable(reason),
            "shown_at": time.time(),
        }
        self._update(last=last)

    def devices(self, devices: dict[str, DeviceState]) -> None:
        """Show device states."""
        self._update(
            devices={
                k: {"kind": d.kind, "state": d.state.value, "reason": printable(d.reason)}
                for k, d in devices.items()
            }
        )

    def link(self, link: dict[str, Any]) -> None:
        """Show the broker link state."""
        self._update(link=link)

    def outbox(self, depth: int, oldest_age_s: float | None) -> None:
        """Show the outbox depth (only when it changed)."""
        age = None if oldest_age_s is None else round(oldest_age_s)
        new = {"depth": depth, "oldest_age_s": age}
        if new != self._state["outbox"]:
            self._update(outbox=new)

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """Return the current version and a copy of the state."""
        with self._cond:
            return self._version, dict(self._state)

    def wait(self, version: int, timeout: float) -> tuple[int, dict[str, Any]] | None:
        """Wait until the state is newer than `version`; None on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._version != version, timeout):
                return None
            return self._version, dict(self._state)
