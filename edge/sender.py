"""The send window: which outbox rows are in flight, what was PUBACKed, acked, or is overdue."""

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from dockscan.logs import RateLimitedLog
from edge.outbox import Outbox

logger = logging.getLogger(__name__)
NO_MATCHING_SUBSCRIBERS = 0x10
STUCK_AFTER = 5  # ack timeouts without a PUBACK: publish again even though paho holds it


class SendWindow:
    """Sends rows in seq order with at most `window` unacked; re-sends after `ack_timeout_s`.

    A row whose last publish the broker has not PUBACKed yet is still in paho's queue (paho
    re-transmits it itself after a reconnect), so it is not queued again while that publish is
    younger than STUCK_AFTER ack timeouts: re-sending it would grow paho's queue by a whole
    window every timeout while the broker is slow.
    Callbacks from paho's thread only append to deques; `step()` runs on the publisher thread.
    """

    def __init__(
        self,
        outbox: Outbox,
        publish: Callable[[bytes], int],
        window: int,
        ack_timeout_s: float,
        counters: Counter[str],
    ) -> None:
        self.outbox, self.publish, self.window = outbox, publish, window
        self.ack_timeout_s, self.counters = ack_timeout_s, counters
        self.inflight: dict[str, tuple[int, float]] = {}  # event_id -> (seq, last sent)
        self._mids: dict[int, int] = {}  # paho mid -> seq, for parcel publishes only
        self._unpubacked: dict[int, float] = {}  # seq -> time of its publish still in paho
        self._pubacks: deque[tuple[int, int]] = deque()
        self._acks: deque[list[str]] = deque()
        self._cursor = 0
        self._restart = threading.Event()
        self._slow = RateLimitedLog(logger, 30)

    def on_puback(self, mid: int, reason: int) -> None:
        """Note a PUBACK (paho thread)."""
        self._pubacks.append((mid, reason))

    def on_ack(self, ids: list[str]) -> None:
        """Note the event ids a gateway committed (paho thread)."""
        self._acks.append(ids)

    def restart(self) -> None:
        """Re-send everything stored from the oldest row on the next step (reconnect, resend)."""
        self._restart.set()

    def step(self, connected: bool) -> None:
        """Apply PUBACKs and acks; when connected, re-send overdue rows and fill the window."""
        self._apply_callbacks()
        if not connected:
            return
        if self._restart.is_set():
            self._restart.clear()
            self.inflight.clear()
            self._cursor = 0
            if len(self._mids) > 10 * self.window:
                self._mids.clear()  # PUBACKs of lost connections never come
                self._unpubacked.clear()
        self._resend_overdue()
        self._fill()

    def _apply_callbacks(self) -> None:
        """Delete rows the gateway acknowledged (first: that frees space), mark PUBACKed sent."""
        ids: list[str] = []
        while self._acks:
            ids.extend(self._acks.popleft())
        if ids:
            removed = self.outbox.delete(ids)
            self.counters["acked"] += removed
            self.counters["ack_unknown"] += len(ids) - removed
            for event_id in ids:
                seq, _ = self.inflight.pop(event_id, (None, 0.0))
                if seq is not None:
                    self._unpubacked.pop(seq, None)
        sent: list[int] = []
        while self._pubacks:
            mid, code = self._pubacks.popleft()
            seq = self._mids.pop(mid, None)
            if seq is None:
                continue
            self._unpubacked.pop(seq, None)
            if code == NO_MATCHING_SUBSCRIBERS:
                self.counters["puback_no_subscribers"] += 1
                self._slow.warning("nosub", "broker says nobody subscribes to our events")
            else:
                sent.append(seq)
        self.outbox.mark_sent(sent)

    def _in_paho(self, seq: int, now: float) -> bool:
        """Return whether a publish of this seq still waits for its PUBACK (and is not stuck)."""
        published = self._unpubacked.get(seq)
        return published is not None and now - published < STUCK_AFTER * self.ack_timeout_s

    def _send(self, seq: int, event_id: str, payload: bytes) -> None:
        """Publish one row (unless paho still holds it) and remember it as in flight."""
        now = time.monotonic()
        self.inflight[event_id] = (seq, now)
        if self._in_paho(seq, now):
            self.counters["held_by_paho"] += 1
            return
        self._mids[self.publish(payload)] = seq
        self._unpubacked[seq] = now
        self.counters["published"] += 1

    def _fill(self) -> None:
        """Send the next rows after the cursor until the window is full."""
        room = self.window - len(self.inflight)
        if room <= 0:
            return
        for row in self.outbox.rows_after(self._cursor, room):
            self._send(row.seq, row.event_id, row.payload)
            self._cursor = row.seq

    def _resend_overdue(self) -> None:
        """Re-send rows whose gateway ack is later than ack_timeout_s."""
        limit = time.monotonic() - self.ack_timeout_s
        overdue = [e for e, (_, t) in self.inflight.items() if t < limit]
        if not overdue:
            return
        rows = self.outbox.rows_by_id(overdue)
        stored = {r.event_id for r in rows}
        for event_id in overdue:
            if event_id not in stored:
                self.inflight.pop(event_id, None)
        before = self.counters["published"]
        for row in rows:
            self._send(row.seq, row.event_id, row.payload)
        resent = self.counters["published"] - before
        if resent:
            self.counters["resent"] += resent
            self._slow.warning("resend", "re-sent %d event(s) without a gateway ack", resent)
