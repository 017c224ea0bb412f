"""Camera driver: capture thread, latest-frame hand-off, change gate, decode thread, evidence."""

import logging
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dockscan.config import CameraConfig
from dockscan.errors import DeviceError
from dockscan.logs import RateLimitedLog
from edge.devices.base import DeviceListener, ScanRead
from edge.vision import Decoder
from edge.vision.evidence import EvidenceStore, FrameRing
from edge.vision.sources import FrameSource, open_source

logger = logging.getLogger(__name__)

BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
GATE_SIZE = (64, 36)


class LatestFrame:
    """A one-slot hand-off: a new frame replaces an undecoded one (counted as dropped)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[float, np.ndarray] | None = None
        self.dropped = 0

    def put(self, t: float, frame: np.ndarray) -> None:
        """Offer a frame taken at monotonic time t."""
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = (t, frame)
            self._cond.notify()

    def take(self, timeout: float) -> tuple[float, np.ndarray] | None:
        """Wait up to timeout for a frame and remove it."""
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item


class CameraDevice:
    """A fixed camera: reads frames from its source, decodes codes, reports reads and state."""

    kind = "camera"

    def __init__(self, cfg: CameraConfig, listener: DeviceListener) -> None:
        self.cfg, self.listener, self.id = cfg, listener, cfg.id
        self.decoder = Decoder.from_camera(cfg)
        self.ring = FrameRing(keep_s=8.0, rate_hz=min(4.0, cfg.fps))
        self.store = EvidenceStore(
            cfg.evidence_dir, cfg.evidence_max_mb, max_kb=cfg.evidence_max_kb
        )
        self.slot = LatestFrame()
        self.state = ("", "")
        self._state_lock = threading.Lock()
        self._stop = threading.Event()
        self._counts = dict(frames=0, decoded=0, reads=0, reconnects=0, unchanged=0, corrupt=0)
        self._last_frame_t = time.monotonic()
        self._seen: dict[tuple[str, str], float] = {}
        self._visible: set[tuple[str, str]] = set()
        self._gate: np.ndarray | None = None
        self._rlog = RateLimitedLog(logger, 30.0)
        self._threads: list[threading.Thread] = []

    @property
    def counters(self) -> dict[str, int]:
        """Return frame, decode, read, reconnect and evidence counts."""
        return {
            **self._counts,
            "dropped": self.slot.dropped,
            "evidence_saved": self.store.saved,
            "evidence_deleted": self.store.deleted,
            "evidence_oversize": self.store.oversize,
        }

    def start(self) -> None:
        """Start the capture and decode threads."""
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._capture_loop, name=f"camera-{self.id}", daemon=True),
            threading.Thread(
                target=self._decode_loop, name=f"camera-{self.id}-decode", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop both threads and join them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.cfg.stall_after_s * 2 + 5)

    def command(self, name: str, args: dict[str, Any]) -> tuple[bool, str]:
        """Cameras take no commands."""
        return False, f"camera has no command {name!r}"

    def evidence(self, t: float, before_s: float = 1.0, after_s: float = 0.5) -> list[str]:
        """Save the frames around monotonic time t as JPEG; return their file names."""
        frames = self.ring.around(t, before_s, after_s)
        if not frames:
            logger.warning("camera %s: no frames kept for evidence", self.id)
            return []
        return self.store.save(self.id, frames)

    def evidence_path(self, name: str) -> Path | None:
        """Return the path of one of this camera's evidence files, None if the name is not one."""
        path = self.store.folder / name
        return path if name.startswith(f"{self.id}-") and path.name == name else None

    def _set_state(self, state: str, reason: str = "", only_from: str = "") -> None:
        """Report a state change to the listener (only changes; optionally only from a state)."""
        with self._state_lock:
            if (state, reason) == self.state or (only_from and self.state[0] != only_from):
                return
            self.state = (state, reason)
            log = logger.info if state in ("ok", "starting") else logger.warning
            log("camera %s: %s%s", self.id, state, f" ({reason})" if reason else "")
            self.listener.on_device_state(self.id, self.kind, state, reason)

    def _capture_loop(self) -> None:
        """Open the source, read frames at the capped rate, reconnect with backoff."""
        self._set_state("starting", f"opening {self.cfg.source}")
        failures, opened_before = 0, False
        while not self._stop.is_set():
            try:
                source = open_source(self.cfg.source, timeout_s=self.cfg.stall_after_s * 2)
            except DeviceError as exc:
                self._set_state("disconnected", str(exc))
            else:
                self._counts["reconnects"] += opened_before
                opened_before = True
                failures = 0
                self._last_frame_t = time.monotonic()
                self._set_state("ok", source.description)
                reason = self._read_frames(source)
                if self._stop.is_set():
                    break
                self._set_state("disconnected", reason)
            self._stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1

    def _read_frames(self, source: FrameSource) -> str:
        """Read frames until the source ends or fails; return why it ended."""
        period = 1.0 / self.cfg.fps
        next_due = time.monotonic()
        corrupt_seen = 0
        try:
            while not self._stop.is_set():
                if not source.live:
                    self._stop.wait(max(0.0, next_due - time.monotonic()))
                frame = source.read()
                now = time.monotonic()
                corrupt_now = getattr(source, "corrupt", 0)
                self._counts["corrupt"] += corrupt_now - corrupt_seen
                corrupt_seen = corrupt_now
                if frame is None:
                    return "end of stream" if not source.live else "no frame from source"
                self._last_frame_t = now
                if now < next_due and source.live:
                    continue  # frame-rate cap: drop what the camera sends too fast
                next_due = max(next_due + period, now)
                self._counts["frames"] += 1
                self.slot.put(now, frame)
        except DeviceError as exc:
            return str(exc)
        except cv2.error as exc:
            return f"capture error: {exc.msg}"
        finally:
            source.close()
        return "stopped"

    def _decode_loop(self) -> None:
        """Take the latest frame, skip it if the scene has not changed, decode, report reads."""
        while not self._stop.is_set():
            item = self.slot.take(timeout=0.2)
            if item is None:
                self._check_stall()
                continue
            t, frame = item
            self._set_state("ok", "frames again", only_from="stalled")
            try:
                self._process(t, frame)
            except (cv2.error, ValueError) as exc:
                self._rlog.warning("decode", "camera %s: cannot decode a frame: %s", self.id, exc)

    def _check_stall(self) -> None:
        """Report stalled when an open source has sent nothing for stall_after_s."""
        quiet = time.monotonic() - self._last_frame_t
        if quiet > max(self.cfg.stall_after_s, 2.0 / self.cfg.fps):
            self._set_state("stalled", f"no frame for {quiet:.1f} s", only_from="ok")

    def _process(self, t: float, frame: np.ndarray) -> None:
        """Gate, decode and de-duplicate one frame."""
        gray, scale, x0, y0 = self.decoder.prepare(frame)
        self.ring.add(t, self.decoder.gray(frame))
        thumb = cv2.resize(gray, GATE_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)
        if self._gate is not None and float(np.abs(thumb - self._gate).mean()) < 1.5:
            self._counts["unchanged"] += 1
            self._refresh_seen(t)
            return
        self._gate = thumb
        codes = self.decoder.decode(gray, prepared=True)
        self._counts["decoded"] += 1
        self._visible = {(c.text, c.symbology) for c in codes}
        for code in codes:
            key = (code.text, code.symbology)
            last = self._seen.get(key)
            self._seen[key] = t
            if last is not None and t - last <= self.cfg.dedupe_window_s:
                continue
            position = tuple((int(x / scale) + x0, int(y / scale) + y0) for x, y in code.position)
            self._counts["reads"] += 1
            self.listener.on_scan(
                ScanRead(self.id, "camera", code.text, code.symbology, t=t, position=position)
            )
        self._seen = {k: v for k, v in self._seen.items() if t - v <= self.cfg.dedupe_window_s}

    def _refresh_seen(self, t: float) -> None:
        """An unchanged frame still shows the codes last decoded: keep them fresh."""
        for key in self._visible:
            self._seen[key] = t
