"""A child process kept running beside the ingest: restarted when it dies, stopped after it.

`gateway run` keeps its reconciler (`gateway reconcile`) this way: the ingest runs in the
parent, and a thread waits on the child, starting it again a second after it exits (longer
while it keeps dying at once) unless the gateway is stopping. The child is told the parent's
pid, so it exits when the parent dies.
"""

import logging
import signal
import subprocess
import threading
import time

logger = logging.getLogger(__name__)
RESTART_S = 1.0
MAX_RESTART_S = 30.0
STEADY_S = 10.0  # a child that ran this long is started again after RESTART_S
STOP_S = 30.0


class Keeper(threading.Thread):
    """Runs `argv` as a child until `stop` is set, restarting it after an unexpected exit."""

    def __init__(self, name: str, argv: list[str], stop: threading.Event) -> None:
        super().__init__(name=f"{name}-keeper", daemon=True)
        self.label, self.argv, self.stop_event = name, argv, stop
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def run(self) -> None:
        """Start the child; whenever it exits before the stop, log it and start it again.

        The pause doubles (up to MAX_RESTART_S) while the child keeps dying within STEADY_S.
        """
        pause = RESTART_S
        while not self.stop_event.is_set():
            with self.lock:
                if self.stop_event.is_set():
                    return
                self.proc = subprocess.Popen(self.argv)
                self.starts += 1
            started = time.monotonic()
            code = self.proc.wait()
            pause = RESTART_S if time.monotonic() - started > STEADY_S else pause
            if self.stop_event.wait(pause):
                return
            logger.error("the %s process exited with %s; starting it again", self.label, code)
            pause = min(MAX_RESTART_S, pause * 2)

    def finish(self) -> int:
        """Stop the child (SIGTERM, then SIGKILL after STOP_S); return its exit code.

        A child that ends by that SIGTERM (one still starting has no handler yet) stopped
        as asked: 0.
        """
        self.stop_event.set()
        with self.lock:
            proc = self.proc
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(STOP_S)
            return 0 if code == -signal.SIGTERM else abs(code)
        except subprocess.TimeoutExpired:
            logger.error("the %s process did not stop in %.0f s; killing it", self.label, STOP_S)
            proc.kill()
            return abs(proc.wait())
