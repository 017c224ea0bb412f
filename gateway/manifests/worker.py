"""Read and check a large manifest file in a second process while this one stores its lines.

The second process is `python -m gateway.manifests.worker`, started afresh (never forked: the
gateway runs threads; and not through multiprocessing, which would import the caller's main
script again). It reads its job from stdin, then the import's stamp (manifest id, import id,
time) once the caller's transaction has begun, and writes one length-prefixed marshal frame per
batch of insert-ready rows to stdout. The pipe's buffer (1 MB) bounds what waits in it, so a
slow writer holds up the reader and memory stays flat. The process ignores SIGINT and SIGTERM: a
Ctrl-C or a service stop reaches the importing process, which decides (and kills this one if
it gives up).
"""

import contextlib
import fcntl
import gc
import logging
import marshal
import os
import pickle
import signal
import struct
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gateway.manifests.batches import Batch, CheckedFile, Job, Reject
from gateway.manifests.model import ManifestError

logger = logging.getLogger(__name__)
FRAME = struct.Struct("<I")  # the length of the marshal data that follows
PIPE_BYTES = 1 << 20  # the pipe's buffer: the reader may run a batch or two ahead
ROOT = str(Path(__file__).resolve().parents[2])  # where the gateway package lives


class WorkerFile:
    """The batches of one file, read and checked by a second process; `bytes` once read."""

    def __init__(self, job: Job) -> None:
        self.job, self.bytes = job, 0
        self.peak_kb = 0  # the second process's peak RSS (VmHWM)
        self.finished = False

    def __enter__(self) -> "WorkerFile":
        """Start the second process: it reads ahead while the caller opens its transaction."""
        path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "gateway.manifests.worker"],  # -P: not from the cwd
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": path},
        )  # fmt: skip
        assert self.process.stdout is not None
        with contextlib.suppress(OSError, AttributeError):  # Linux: room for a whole frame or two
            fcntl.fcntl(self.process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._tell(self.job)
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the second process unless it finished, and wait for it."""
        if not self.finished and self.process.poll() is None:
            self.process.kill()
        assert self.process.stdin is not None and self.process.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        self.process.stdout.close()
        self.process.wait()

    def stamp(self, manifest_id: str, import_id: int, now: int) -> None:
        """Tell the second process the import its lines are for: it starts checking them."""
        self._tell((manifest_id, import_id, now))
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()

    def _tell(self, message: object) -> None:
        """Send the second process one message on its stdin."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(pickle.dumps(message))
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # it died: reading its output says so

    def __iter__(self) -> Iterator[Batch]:
        """Yield the batches as the second process sends them."""
        assert self.process.stdout is not None
        stream = self.process.stdout
        while True:
            head = stream.read(FRAME.size)
            size = FRAME.unpack(head)[0] if len(head) == FRAME.size else -1
            data = stream.read(size) if size > 0 else b""
            if len(data) != size:
                raise RuntimeError(
                    f"the manifest check process ended early (exit code {self.process.wait()})"
                )
            kind, *body = marshal.loads(data)
            if kind == "batch":
                lines, rows, rejects, seen = body
                yield Batch(lines, rows, [Reject(*r) for r in rejects], seen)
                continue
            self.finished = True
            detail, self.peak_kb = body
            logger.debug("manifest check process: peak RSS %d kB", self.peak_kb)
            if kind == "refused":
                raise ManifestError(detail)
            if kind == "failed":
                raise RuntimeError(f"the manifest check process failed: {detail}")
            self.bytes = detail
            return


def main() -> None:
    """In the second process: read the job, send each batch, then the byte count or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.disable()  # a short life making no cycles: reference counting frees every line
    try:
        job, stamp = pickle.load(sys.stdin.buffer), pickle.load(sys.stdin.buffer)
    except EOFError:
        return  # the importing process gave up before its transaction began
    out = sys.stdout.buffer
    source = CheckedFile(job)
    source.stamp(*stamp)
    try:
        try:
            for b in source:
                rejects = [(r.line_no, r.field, r.reason) for r in b.rejects]
                _send(out, ("batch", b.lines, b.rows, rejects, b.seen))
        except ManifestError as exc:
            _send(out, ("refused", str(exc), _peak_kb()))
        except Exception as exc:  # a bug: the importing process raises it as such
            traceback.print_exc()  # to the importing process's stderr, the log
            _send(out, ("failed", f"{type(exc).__name__}: {exc}", _peak_kb()))
        else:
            _send(out, ("done", source.bytes, _peak_kb()))
        out.flush()
    except (BrokenPipeError, ConnectionResetError):
        os._exit(0)  # the importing process is gone or gave up: nothing left to tell


def _send(out: IO[bytes], message: tuple) -> None:
    """Write one frame."""
    data = marshal.dumps(message)
    out.write(FRAME.pack(len(data)))
    out.write(data)


def _peak_kb() -> int:
    """Return this process's peak RSS in kB (VmHWM of its own address space)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
