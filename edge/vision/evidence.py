"""No-read evidence: a short ring of recent frames, saved as JPEG into a size-bounded folder."""

import collections
import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)


class FrameRing:
    """Keep recent frames (at most `rate_hz` per second, for `keep_s` seconds) with their times."""

    def __init__(self, keep_s: float = 8.0, rate_hz: float = 4.0) -> None:
        self.interval = 1.0 / rate_hz
        self._frames: collections.deque[tuple[float, np.ndarray]] = collections.deque(
            maxlen=max(2, int(keep_s * rate_hz))
        )
        self._lock = threading.Lock()

    def add(self, t: float, frame: np.ndarray) -> None:
        """Remember a frame taken at monotonic time t (skipped if the last one is too recent)."""
        with self._lock:
            if self._frames and t - self._frames[-1][0] < self.interval:
                return
            self._frames.append((t, frame))

    def around(self, t: float, before_s: float, after_s: float) -> list[tuple[float, np.ndarray]]:
        """Return frames within [t - before_s, t + after_s]; if none, the one nearest to t."""
        with self._lock:
            frames = list(self._frames)
        inside = [(ft, f) for ft, f in frames if t - before_s <= ft <= t + after_s]
        if inside or not frames:
            return inside
        return [min(frames, key=lambda item: abs(item[0] - t))]


def fit_jpeg(frame: np.ndarray, max_bytes: int, quality: int = 85) -> bytes | None:
    """Encode a frame as JPEG of at most max_bytes: lower quality, then smaller; None if never."""
    image = frame
    for _ in range(6):
        for q in (quality, 70, 55):
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok and jpeg.size <= max_bytes:
                return jpeg.tobytes()
        if min(image.shape[:2]) < 240:
            break
        image = cv2.resize(image, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    return None


class EvidenceStore:
    """Write evidence JPEGs, each within max_kb, into a folder; delete the oldest past max_mb."""

    def __init__(
        self, folder: str | Path, max_mb: float, quality: int = 85, max_kb: float = 256
    ) -> None:
        self.folder = Path(folder)
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.max_image_bytes = int(max_kb * 1024)
        self.quality = quality
        self.saved = 0
        self.deleted = 0
        self.oversize = 0
        self._lock = threading.Lock()

    def save(self, prefix: str, frames: list[tuple[float, np.ndarray]]) -> list[str]:
        """Save frames as <prefix>-<wall ms>-<count>.jpg; return the file names written."""
        names: list[str] = []
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = int(time.time() * 1000)
            for _t, frame in frames:
                jpeg = fit_jpeg(frame, self.max_image_bytes, self.quality)
                if jpeg is None:
                    self.oversize += 1
                    logger.warning(
                        "evidence frame for %s does not fit %d bytes: dropped",
                        prefix, self.max_image_bytes,
                    )  # fmt: skip
                    continue
                name = f"{prefix}-{stamp}-{self.saved % 10000:04d}.jpg"  # unique within a ms
                (self.folder / name).write_bytes(jpeg)
                names.append(name)
                self.saved += 1
            self._enforce_limit(keep=set(names))
        return names

    def _enforce_limit(self, keep: set[str]) -> None:
        """Delete the oldest JPEGs until the folder fits; never the files just written."""
        files = []
        for path in self.folder.glob("*.jpg"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            files.append((stat.st_mtime_ns, path.name, stat.st_size, path))
        total = sum(f[2] for f in files)
        for _mtime, name, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            if name in keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
            self.deleted += 1
        if total > self.max_bytes:
            logger.warning(
                "evidence folder %s is over its limit with the newest frames", self.folder
            )
