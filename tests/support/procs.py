"""Child processes for end-to-end tests (`dockscan ...` with logs), and threads run at once."""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Procs:
    """Start `python -m dockscan ...` children, and stop or kill them all at the end."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start `dockscan <args>` with output in <logdir>/<name>.log."""
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "dockscan", *args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        log.close()
        self.children[name] = proc
        return proc

    def log(self, name: str) -> str:
        """Return what a child has written so far."""
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL one child (its whole process group) and wait for it."""
        proc = self.children[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self, name: str, timeout: float = 15) -> int:
        """SIGTERM one child and wait; return its exit code."""
        proc = self.children[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout)

    def stop_all(self) -> None:
        """Stop every child still running, killing the ones that do not stop."""
        for name, proc in reversed(list(self.children.items())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill(name)

    def dump(self) -> str:
        """Return the tail of every log, for assertion messages."""
        return "\n".join(
            f"--- {name} (rc={proc.poll()})\n{self.log(name)[-3000:]}"
            for name, proc in self.children.items()
        )


def get_json(url: str, timeout: float = 5.0) -> object:
    """GET a URL and parse its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def get_text(url: str, timeout: float = 5.0) -> str:
    """GET a URL and return its body as text."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def together(work: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables in threads released at the same moment; return results or raise."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work[i]()
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results
