"""The thread every serial simulator runs on: owns its PtyPort, runs actions and a schedule."""

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from firmware_sim.pty_port import PtyPort

logger = logging.getLogger(__name__)

TICK_S = 0.01
ACTION_TIMEOUT_S = 2.0
STOP_S = 30.0  # a loop tick is 10 ms: a thread this late is stuck, not slow


class SerialSim:
    """Base of the simulators: a named thread that owns a PtyPort.

    Other threads ask for changes (unplug, replug, garbage, writes) through `call`, so only
    the simulator thread touches the pty. Subclasses override `on_bytes` and `on_tick`.
    """

    thread_name = "sim"

    def __init__(self, link: str | Path, tcp_port: int | None = None) -> None:
        self.port = PtyPort(link, tcp_port)
        self._actions: queue.Queue[tuple[Callable[[], None], threading.Event]] = queue.Queue()
        self._schedule: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def link(self) -> Path:
        """Return the symlink clients open."""
        return self.port.link

    def start(self) -> None:
        """Plug the port and start the simulator thread."""
        self.port.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then unplug the port (never under a thread still using it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_S)
            if self._thread.is_alive():
                raise RuntimeError(f"the {self.thread_name} thread did not stop within {STOP_S} s")
            self._thread = None
        self.port.close()

    def call(self, action: Callable[[], None]) -> None:
        """Run `action` on the simulator thread and wait for it (or run it now if stopped)."""
        if self._thread is None or threading.current_thread() is self._thread:
            action()
            return
        done = threading.Event()
        self._actions.put((action, done))
        if not done.wait(ACTION_TIMEOUT_S):
            raise TimeoutError("simulator thread did not run the action")

    def schedule(self, delay_s: float, action: Callable[[], None]) -> None:
        """Run `action` on the simulator thread after `delay_s` seconds."""
        due = time.monotonic() + delay_s
        self.call(lambda: heapq.heappush(self._schedule, (due, next(self._order), action)))

    def unplug(self) -> None:
        """Pull the cable: close the pty and remove the symlink."""
        self.call(self.port.unplug)

    def replug(self) -> None:
        """Plug a new pty in and re-point the symlink at it."""
        self.call(self.port.open)

    def send(self, data: bytes) -> None:
        """Write raw bytes (e.g. garbage) to the line."""
        self.call(lambda: self.port.write(data))

    def on_bytes(self, data: bytes, now: float) -> None:
        """Handle bytes the client sent (override)."""

    def on_tick(self, now: float) -> None:
        """Do periodic work such as streaming (override)."""

    def _run(self) -> None:
        """Run actions, scheduled work, reads and ticks until stopped."""
        while not self._stop.is_set():
            while not self._actions.empty():
                action, done = self._actions.get_nowait()
                try:
                    action()
                except Exception:
                    logger.exception("simulator action failed")
                done.set()
            now = time.monotonic()
            while self._schedule and self._schedule[0][0] <= now:
                _, _, action = heapq.heappop(self._schedule)
                try:
                    action()
                except Exception:
                    logger.exception("scheduled simulator action failed")
            data = self.port.read(TICK_S) if self.port.plugged else b""
            if not self.port.plugged:
                self._stop.wait(TICK_S)
            now = time.monotonic()
            if data:
                self.on_bytes(data, now)
            self.on_tick(now)
        while not self._actions.empty():
            self._actions.get_nowait()[1].set()
