"""Station logic: pair scans with captured weights into parcel events, committed to the outbox."""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dockscan import __version__
from dockscan.codes import CodeClassifier, CodeInfo
from dockscan.config import StationConfig
from dockscan.correction_events import CLEARED_OUTCOMES
from dockscan.errors import StoreError
from dockscan.events import (
    Barcode,
    DeviceState,
    DeviceStateName,
    Outcome,
    ParcelEvent,
    Weight,
)
from dockscan.ids import utcnow
from edge.devices.base import CapturedWeight, ScanRead
from edge.outbox import Outbox

logger = logging.getLogger(__name__)

Evidence = Callable[[float], list[str]]


@dataclass
class _Read:
    """One scan inside a pairing window, classified."""

    scan: ScanRead
    barcode: Barcode
    info: CodeInfo
    t: float


@dataclass
class _Window:
    """Reads and at most one weight collected since the window opened."""

    opened: float
    reads: list[_Read] = field(default_factory=list)
    weight: CapturedWeight | None = None
    weight_t: float = 0.0
    repeat: bool = False

    def ids(self) -> list[str]:
        """Return the distinct codes that name the parcel (parcel-id kinds first)."""
        valid = [r.info for r in self.reads if r.info.check_ok is not False]
        named = [i.value for i in valid if i.is_parcel_id] or [i.value for i in valid]
        return list(dict.fromkeys(named))


@dataclass(frozen=True)
class Decision:
    """A concluded window, ready to become a parcel event."""

    outcome: Outcome
    barcodes: list[Barcode]
    weight: CapturedWeight | None
    flags: list[str]
    t: float
    ts: datetime


def weight_model(w: CapturedWeight) -> Weight:
    """Convert a driver's captured weight into the contract model (raw frame escaped)."""
    raw = "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\x{b:02x}" for b in w.raw)
    return Weight(
        value=round(w.kg, 6),
        device_value=w.device_value[:32],
        device_unit=w.device_unit[:8],
        stable=w.stable,
        raw=raw[:256],
        device=w.device[:64],
    )


class Station:
    """Pairs scans and weights within the window; every outcome is committed to the outbox."""

    def __init__(
        self,
        site: str,
        cfg: StationConfig,
        outbox: Outbox,
        topic: str,
        *,
        evidence: Evidence | None = None,
        clock: Callable[[], float] = time.monotonic,
        version: str = __version__,
    ) -> None:
        self.site, self.cfg, self.outbox, self.topic = site, cfg, outbox, topic
        self.evidence, self.clock, self.version = evidence, clock, version
        where = f"stations.{cfg.id}.code_patterns"
        self.classifier = CodeClassifier(cfg.code_patterns, where=where)
        self.counters: Counter[str] = Counter()
        self.devices: dict[str, DeviceState] = {}
        self.on_captured: list[Callable[[ParcelEvent], None]] = []
        self.on_refused: list[Callable[[Decision, str], None]] = []
        self.on_devices: list[Callable[[dict[str, DeviceState]], None]] = []
        self.flaggers: list[Callable[[Decision], list[str]]] = []  # extra flags, e.g. HELD:...
        self._window: _Window | None = None
        self._recent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._emit_lock = threading.Lock()

    # DeviceListener -------------------------------------------------------------------------

    def on_scan(self, scan: ScanRead) -> None:
        """Take a code read; may conclude a window (called from device threads)."""
        t = scan.t or self.clock()
        barcode, info = self.classifier.barcode(scan.text, scan.symbology, scan.device)
        with self._lock:
            decisions = self._expire(t)
            self.counters["scans"] += 1
            last = self._recent.get(info.value)
            repeat = (
                info.check_ok is not False
                and last is not None
                and t - last <= self.cfg.repeat_window_s
            )
            if repeat and self.cfg.repeat_policy == "suppress":
                self.counters["repeats_suppressed"] += 1
                logger.info("suppressed repeat scan of %r", info.value)
            else:
                w = self._window or _Window(opened=t)
                self._window = w
                if not any(
                    r.info.value == info.value and r.scan.device == scan.device for r in w.reads
                ):
                    w.reads.append(_Read(scan, barcode, info, t))
                w.repeat = w.repeat or repeat
                if w.weight is not None and w.ids():
                    decisions.append(self._conclude(t))
        self._emit_all(decisions)

    def on_weight(self, weight: CapturedWeight) -> None:
        """Take a captured weight; may conclude a window (called from device threads)."""
        t = weight.t or self.clock()
        with self._lock:
            decisions = self._expire(t)
            self.counters["weights"] += 1
            if self._window is not None and self._window.weight is not None:
                decisions.append(self._conclude(t))  # a second parcel: close the first now
            w = self._window or _Window(opened=t)
            self._window = w
            w.weight, w.weight_t = weight, t
            if w.ids():
                decisions.append(self._conclude(t))
        self._emit_all(decisions)

    def on_device_state(self, device: str, kind: str, state: str, reason: str) -> None:
        """Record a device state change and tell the listeners (status, screen)."""
        try:
            name = DeviceStateName(state)
        except ValueError:
            name, reason = DeviceStateName.FAULT, f"unknown state {state!r}: {reason}"
        if kind not in ("scale", "scanner", "camera", "outbox"):
            logger.warning("device %s reports unknown kind %r", device, kind)
            return
        with self._lock:
            old = self.devices.get(device)
            if old is not None and old.state == name and old.reason == reason[:512]:
                return
            self.devices[device] = DeviceState(
                kind=kind, state=name, reason=reason[:512], since=utcnow()
            )
            snapshot = dict(self.devices)
        logger.info("device %s is %s %s", device, name.value, reason)
        for cb in self.on_devices:
            cb(snapshot)

    # time -----------------------------------------------------------------------------------

    def counter_snapshot(self) -> dict[str, int]:
        """Return a copy of the station's counters."""
        with self._lock:
            return dict(self.counters)

    def tick(self, now: float | None = None) -> None:
        """Conclude a window whose time is up (run by a ticker thread or a test)."""
        with self._lock:
            decisions = self._expire(self.clock() if now is None else now)
        self._emit_all(decisions)

    def flush(self) -> None:
        """Conclude the open window now (shutdown); nothing collected is dropped."""
        with self._lock:
            decisions = [self._conclude(self.clock())] if self._window else []
        self._emit_all(decisions)

    def _expire(self, now: float) -> list[Decision]:
        """Return the decision for a window older than the pairing window; lock held."""
        w = self._window
        if w is not None and now - w.opened >= self.cfg.pairing_window_s:
            return [self._conclude(w.opened + self.cfg.pairing_window_s)]
        return []

    def _conclude(self, t: float) -> Decision:
        """Turn the open window into a decision and close it; lock held."""
        w = self._window
        assert w is not None
        self._window = None
        ids = w.ids()
        invalid = [r for r in w.reads if r.info.check_ok is False]
        if len(ids) > 1:
            outcome = Outcome.MULTI_READ
        elif ids:
            outcome = Outcome.OK if w.weight else Outcome.REPEAT if w.repeat else Outcome.NO_WEIGHT
        elif invalid:
            outcome = Outcome.INVALID_CODE
        else:
            outcome = Outcome.NO_READ
        flags = ["REPEAT"] if w.repeat else []
        if invalid and outcome is not Outcome.INVALID_CODE:
            flags.append("INVALID_READ")
        for code in ids:
            self._recent[code] = t
        horizon = t - self.cfg.repeat_window_s
        if len(self._recent) > 1000:
            self._recent = {k: v for k, v in self._recent.items() if v >= horizon}
        last = max([r.t for r in w.reads] + ([w.weight_t] if w.weight else []))
        stamps = [r.scan.ts for r in w.reads] + ([w.weight.ts] if w.weight else [])
        return Decision(outcome, [r.barcode for r in w.reads], w.weight, flags, last, max(stamps))

    # emission -------------------------------------------------------------------------------

    def _emit_all(self, decisions: list[Decision]) -> None:
        """Commit each decision to the outbox, then report it captured (or refused)."""
        for d in decisions:
            with self._emit_lock:
                self._emit(d)

    def _emit(self, d: Decision) -> None:
        """Build the event inside the outbox transaction; report only after the commit."""
        images: list[str] = []
        if d.outcome in CLEARED_OUTCOMES and self.evidence is not None:
            try:
                images = self.evidence(d.t)[:16]
            except Exception:
                logger.exception("evidence for %s failed", d.outcome.value)
        built: list[ParcelEvent] = []
        extra: list[str] = []
        for flagger in self.flaggers:
            try:
                extra += flagger(d)
            except Exception:
                logger.exception("flagger failed; the event goes without its flag")
        flags = [*extra, *d.flags]  # a HELD flag first: the cap of 16 never cuts it

        def build(seq: int, event_id: str) -> bytes:
            event = ParcelEvent(
                event_id=event_id,
                seq=seq,
                site=self.site,
                dock=self.cfg.dock,
                station=self.cfg.id,
                ts=d.ts,
                outcome=d.outcome,
                barcodes=d.barcodes[:32],
                weight=weight_model(d.weight) if d.weight else None,
                flags=flags[:16],
                images=images,
                agent_version=self.version,
            )
            built.append(event)
            return event.to_json()

        try:
            self.outbox.add(self.topic, build)
        except (StoreError, ValueError) as exc:
            with self._lock:
                self.counters["refused"] += 1
            logger.error("event NOT captured (%s): %s", d.outcome.value, exc)
            self._report_outbox()
            for refused in self.on_refused:
                refused(d, str(exc))
            return
        self._report_outbox()
        event = built[-1]
        with self._lock:
            self.counters["events"] += 1
            self.counters[f"outcome_{d.outcome.value}"] += 1
        for captured in self.on_captured:
            try:
                captured(event)
            except Exception:
                logger.exception("captured-event listener failed")

    def _report_outbox(self) -> None:
        """Report the outbox as a device: a fault while it has no space, ok once it has again."""
        reason = self.outbox.full_reason
        if reason:
            self.on_device_state("outbox", "outbox", "fault", reason)
        elif "outbox" in self.devices:
            self.on_device_state("outbox", "outbox", "ok", "")
