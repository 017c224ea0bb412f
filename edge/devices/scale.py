"""Serial scale driver: polls or streams, parses frames, captures stable weights, runs commands."""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockscan.config import ScaleConfig
from dockscan.errors import FrameError
from dockscan.logs import RateLimitedLog
from edge.devices.base import CapturedWeight, DeviceListener
from edge.devices.capture import CaptureRules, StableCapture
from edge.devices.protocols import Reading, Reply, get_protocol
from edge.devices.protocols.framing import Framer
from edge.devices.serial_device import SerialThreadDevice
from edge.devices.serial_link import LinkLost, SerialLink

logger = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 3.5  # MT-SICS Z waits up to about 3 s for stability
COMMAND_TIMEOUT_S = 5.0


@dataclass
class _Pending:
    """A command waiting for the device thread and then for the scale's reply."""

    name: str
    request: bytes
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[bool, str] = (False, "not run")
    deadline: float = 0.0
    abandoned: bool = False  # the caller stopped waiting: never send it late

    def resolve(self, ok: bool, detail: str) -> None:
        """Store the result and wake the caller."""
        self.result = (ok, detail)
        self.done.set()


class ScaleDevice(SerialThreadDevice):
    """A serial scale on one named thread; see edge.devices.base.Device."""

    kind = "scale"

    def __init__(
        self,
        cfg: ScaleConfig,
        listener: DeviceListener,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id, self.cfg, self.listener, self.clock = cfg.id, cfg, listener, clock
        self.protocol = get_protocol(cfg.protocol)
        self.capture = StableCapture(CaptureRules.from_config(cfg))
        self.last_reading: Reading | None = None
        self.state, self.reason = "", ""
        self._counts = dict.fromkeys(
            ("frames_ok", "frames_bad", "bytes_dropped", "captures", "timeouts", "replies"), 0
        )
        self._commands: queue.Queue[_Pending] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = RateLimitedLog(logger, interval=10.0)
        self._link = SerialLink(
            cfg.port,
            baudrate=cfg.baudrate,
            bytesize=cfg.bytesize,
            parity=cfg.parity,
            stopbits=cfg.stopbits,
            on_change=self._on_link_change,
        )
        self._inflight: _Pending | None = None
        self._framer: Framer = self.protocol.framer()
        self._poll_due = 0.0
        self._poll_deadline: float | None = None
        self._last_valid = 0.0
        self._polling = cfg.mode == "poll" and self.protocol.poll_request is not None

    def stop(self) -> None:
        """Stop the device thread, join it, close the port and fail queued commands."""
        super().stop()
        self._fail_commands("device stopped")

    def command(self, name: str, args: dict[str, Any]) -> tuple[bool, str]:
        """Send zero, tare or clear_tare to the scale; return (ok, detail) from its reply."""
        request = self.protocol.commands.get(name)
        if request is None:
            return False, f"{self.protocol.name} has no {name!r} command"
        if self._thread is None:
            return False, "device not running"
        if not self._link.is_open:
            return False, f"scale disconnected: {self.reason}"
        pending = _Pending(name, request)
        self._commands.put(pending)
        if not pending.done.wait(COMMAND_TIMEOUT_S):
            pending.abandoned = True
            return False, f"no result within {COMMAND_TIMEOUT_S:g} s"
        return pending.result

    def _run(self) -> None:
        """Open, read and reopen until stopped."""
        while not self._stop.is_set():
            try:
                if not self._link.is_open and not self._open():
                    break
                self._step()
            except LinkLost as exc:
                self.capture.reset()
                self._fail_commands(str(exc))
            except Exception as exc:  # a driver bug must not end the device thread
                logger.exception("%s: unexpected error in the scale loop", self.id)
                self._set_state("fault", f"driver error: {type(exc).__name__}")
                self._stop.wait(1.0)
        self._link.close()

    def _open(self) -> bool:
        """Open the port and reset per-connection state; False when stopping."""
        if not self._link.open_until(self._stop):
            return False
        self._framer = self.protocol.framer()
        self.capture.reset()
        now = self.clock()
        self._last_valid, self._poll_due, self._poll_deadline = now, now, None
        if self.cfg.mode == "stream" and self.protocol.stream_request:
            try:
                self._link.write(self.protocol.stream_request)
            except LinkLost:
                return True  # the loop notices the closed link and reopens
        return True

    def _step(self) -> None:
        """Send what is due, read what arrived, handle timeouts."""
        now = self.clock()
        idle = self._inflight is None and self._poll_deadline is None
        pending = self._commands.get_nowait() if idle and not self._commands.empty() else None
        if pending is not None and not pending.abandoned:
            self._send_command(pending, now)
        elif idle and self._polling and now >= self._poll_due:
            self._link.write(self.protocol.poll_request)
            self._poll_deadline = now + max(0.5, 2 * self.cfg.poll_interval_s)
            self._poll_due = now + self.cfg.poll_interval_s
        data = self._link.read()
        now = self.clock()
        for frame in self._framer.feed(data):
            self._handle(frame, now)
        if self._framer.dropped:
            self._counts["bytes_dropped"] += self._framer.dropped
            self._log.warning("junk", "%s: dropped %d junk bytes", self.id, self._framer.dropped)
            self._framer.dropped = 0
        self._check_timeouts(now)

    def _send_command(self, pending: _Pending, now: float) -> None:
        """Write a command; resolve it at once when the protocol never acknowledges."""
        pending.deadline = now + REPLY_TIMEOUT_S
        self._inflight = pending  # failed by _fail_commands if the write loses the link
        self._link.write(pending.request)
        if not self.protocol.acknowledged:
            self._inflight = None
            pending.resolve(True, f"sent {pending.request!r}; {self.protocol.name} sends no reply")

    def _check_timeouts(self, now: float) -> None:
        """Expire unanswered polls and commands; report a silent scale as stalled."""
        if self._inflight is not None and now > self._inflight.deadline:
            self._inflight.resolve(False, f"no reply within {REPLY_TIMEOUT_S:g} s")
            self._inflight = None
        if self._poll_deadline is not None and now > self._poll_deadline:
            self._poll_deadline = None
            self._counts["timeouts"] += 1
        stall_after = max(self.cfg.stall_after_s, 5 * self.cfg.poll_interval_s)
        if now - self._last_valid > stall_after and self.state in ("ok", "fault", "starting"):
            self._set_state("stalled", f"no valid frame for {stall_after:g} s")
            if self.cfg.mode == "stream" and self.protocol.stream_request:
                self._link.write(self.protocol.stream_request)  # restart a stopped stream

    def _handle(self, frame: bytes, now: float) -> None:
        """Parse one frame; feed readings to the capture rules; match command replies."""
        try:
            parsed = self.protocol.parse(frame)
            kg = parsed.kg if isinstance(parsed, Reading) else None
        except FrameError as exc:
            self._counts["frames_bad"] += 1
            self._log.warning("bad-frame", "%s: bad frame: %s", self.id, exc)
            return
        self._counts["frames_ok"] += 1
        self._last_valid, self._poll_deadline = now, None
        if self._inflight is not None:
            match = self.protocol.match_reply(self._inflight.name, parsed)
            if match is not None:
                self._inflight.resolve(*match)
                self._inflight = None
                return
        if isinstance(parsed, Reply):
            self._counts["replies"] += 1
            self._set_state("ok", "answering")
            return
        self.last_reading = parsed
        fault = parsed.fault
        self._set_state("fault" if fault else "ok", fault or "reading")
        captured = self.capture.feed(now, parsed)
        if captured is not None and kg is not None and captured.value is not None:
            self._counts["captures"] += 1
            weight = CapturedWeight(
                device=self.id,
                kg=kg,
                device_value=captured.value,
                device_unit=captured.unit,
                raw=captured.raw,
                stable=True,
                t=now,
            )
            self._notify(self.listener.on_weight, weight)

    def _on_link_change(self, state: str, reason: str) -> None:
        """Report link loss; "ok" waits for the first valid frame."""
        if state == "disconnected":
            self._set_state("disconnected", reason)

    def _set_state(self, state: str, reason: str) -> None:
        """Tell the listener about a state change (or a new fault reason)."""
        same_reason = state not in ("fault", "disconnected") or reason == self.reason
        if state == self.state and same_reason:
            return
        self.state, self.reason = state, reason
        self._notify(self.listener.on_device_state, self.id, self.kind, state, reason)

    def _notify(self, func: Callable[..., None], *args: Any) -> None:
        """Call the listener; its errors are logged, never fatal to the device thread."""
        try:
            func(*args)
        except Exception:
            logger.exception("%s: listener failed in %s", self.id, func.__name__)

    def _fail_commands(self, reason: str) -> None:
        """Resolve every queued command with a failure."""
        while not self._commands.empty():
            self._commands.get_nowait().resolve(False, reason)
        if self._inflight is not None:
            self._inflight.resolve(False, reason)
            self._inflight = None
