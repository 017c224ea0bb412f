"""What the station screen shows, kept in memory and versioned so SSE clients can wait on it."""

import json
import threading
import time
from collections import OrderedDict
from typing import Any

from dockscan.events import DeviceState, ParcelEvent
from dockscan.ids import iso_ms, utcnow
from edge.holds import Held, held_reason, reason_words

MAX_CODE_CHARS = 80
MAX_NOTE_CHARS = 256
VERDICTS_KEPT = 256  # verdicts of recent parcels, by event id (they may come before or late)
RECENT = 4  # parcels shown under the last one, with their verdicts


def printable(text: str, limit: int = MAX_CODE_CHARS) -> str:
    """Make control characters visible (GS as <GS>) and cap the length (the page escapes HTML)."""
    out = "".join(
        "<GS>" if c == "\x1d" else f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c
        for c in text[: limit * 2]
    )
    return out if len(out) <= limit else out[: limit - 1] + "…"


def pending_view(connected: bool) -> dict[str, Any]:
    """Return the verdict view of a parcel the gateway has not judged yet."""
    text = "verdict pending" if connected else "verdict pending — gateway unreachable"
    return {"state": "pending", "tone": "pending", "lines": [{"text": text, "tone": "pending"}],
            "detail": "", "revision": -1}  # fmt: skip


def sse_json(data: dict[str, Any]) -> str:
    """Serialise for an SSE data line: one line, ASCII, with <, > and & escaped as well."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class ScreenHub:
    """Thread-safe screen state: the last parcel and its verdict, devices, link, outbox, holds."""

    def __init__(self, station: str, dock: str) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._verdicts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._state: dict[str, Any] = {
            "station": station,
            "dock": dock,
            "last": None,
            "recent": [],
            "devices": {},
            "link": {"connected": False},
            "outbox": {"depth": 0, "oldest_age_s": None},
            "holds": {"count": 0, "version": -1},
            "counts": {},
        }

    def _update(self, **changes: Any) -> None:
        """Apply changes and wake every waiting client."""
        with self._cond:
            self._state.update(changes)
            self._version += 1
            self._cond.notify_all()

    def captured(
        self, event: ParcelEvent, hold: Held | None = None, expect_verdict: bool = False
    ) -> None:
        """Show a parcel the outbox has committed, its hold (flag HELD:...) and verdict state."""
        codes = event.barcodes
        main = next((b for b in codes if b.check_ok is not False), codes[0] if codes else None)
        reason = held_reason(event.flags)
        last = {
            "outcome": event.outcome.value,
            "code": printable(main.text) if main else "",
            "kind": main.kind if main else "",
            "codes": len(codes),
            "weight": f"{event.weight.value:.3f} kg" if event.weight else "",
            "flags": event.flags,
            "seq": event.seq,
            "event_id": event.event_id,
            "ts": iso_ms(event.ts),
            "hold": None,
            "verdict": None,
            "shown_at": time.time(),
        }
        if reason is not None:
            note = hold.note if hold is not None and hold.reason == reason else ""
            last["hold"] = {"reason": reason, "words": reason_words(reason),
                            "note": printable(note, MAX_NOTE_CHARS)}  # fmt: skip
        with self._cond:
            counts = dict(self._state["counts"])
            counts[event.outcome.value] = counts.get(event.outcome.value, 0) + 1
            if expect_verdict:
                known = self._verdicts.get(event.event_id)
                last["verdict"] = known or pending_view(self._state["link"].get("connected", False))
            previous = self._state["last"]
            recent = self._state["recent"]
            if previous is not None and previous.get("seq") is not None:
                recent = [previous, *recent][:RECENT]
            self._update(last=last, counts=counts, recent=recent)

    def verdicts(self, views: dict[str, dict[str, Any]]) -> None:
        """Keep the gateway's verdicts and show those of the last and recent parcels."""
        with self._cond:
            taken = {}
            for event_id, view in views.items():
                known = self._verdicts.get(event_id)
                if known is not None and known["revision"] > view["revision"]:
                    continue  # a re-sent event's older verdict: keep the newer one
                self._verdicts[event_id] = taken[event_id] = view
                self._verdicts.move_to_end(event_id)
            while len(self._verdicts) > VERDICTS_KEPT:
                self._verdicts.popitem(last=False)
            changes = self._with_verdicts(lambda p: taken.get(p.get("event_id", "")))
            if changes:
                self._update(**changes)

    def _with_verdicts(self, new_view: Any) -> dict[str, Any]:
        """Return last and recent with the verdicts `new_view` gives them; lock held."""
        changes: dict[str, Any] = {}
        last = self._state["last"]
        if last is not None:
            view = new_view(last)
            if view is not None:
                changes["last"] = {**last, "verdict": view}
        recent, changed = [], False
        for parcel in self._state["recent"]:
            view = new_view(parcel)
            changed = changed or view is not None
            recent.append({**parcel, "verdict": view} if view is not None else parcel)
        if changed:
            changes["recent"] = recent
        return changes

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
        """Show the broker link state; a pending verdict says whether the gateway is reachable."""
        pending = pending_view(bool(link.get("connected")))
        with self._cond:
            changes = self._with_verdicts(
                lambda p: pending if (p.get("verdict") or {}).get("state") == "pending" else None
            )
            self._update(link=link, **changes)

    def holds(self, count: int, version: int) -> None:
        """Show how many ids the station's hold list names, and its version."""
        new = {"count": count, "version": version}
        if new != self._state["holds"]:
            self._update(holds=new)

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
