"""Logging setup shared by every dockscan process, plus a rate-limited logger."""

import logging
import threading
import time

FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


def setup(verbosity: int = 0) -> None:
    """Configure the root logger: -1 quiet, 0 info, 1+ debug."""
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    logging.basicConfig(level=level, format=FORMAT, force=True)
    logging.getLogger("paho").setLevel(max(level, logging.INFO))


class RateLimitedLog:
    """Log at most one message per key every `interval` seconds, counting the rest."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger, self.interval = logger, interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, msg: str, *args: object) -> None:
        """Log a warning for `key` unless one was logged within the interval."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -1e9) < self.interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            skipped = self._suppressed.pop(key, 0)
            self._last[key] = now
        suffix = f" ({skipped} similar suppressed)" if skipped else ""
        self.logger.warning(msg + suffix, *args)
