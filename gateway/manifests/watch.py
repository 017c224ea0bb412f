"""The manifest drop folder: files that arrive there (by SFTP in a hub) are imported once complete.

Under manifests.drop_folder:

    <name>                 arriving; taken once its size and mtime held for drop_settle_s
    processing/<gateway>/  claimed by one gateway with an atomic rename, so several gateways
                           may share the folder and each file is imported once
    done/                  imported (some lines may be rejected), with <name>.report.json
    rejected/              nothing imported (bad name, too big, no header, every line
                           rejected, the manifest closed), with its report

Dotfiles, empty files, symlinks and the temporary names SFTP clients write to (.part,
.filepart, .tmp, .partial) are never taken. The manifest header comes from the file name
(gateway/manifests/intake.py). A name already in done/ or rejected/ gets a number
(`mawb_176-12345675.1.csv`), so no earlier file or report is overwritten. A file left in
processing/ by a stopped gateway is imported again when that gateway starts (an unchanged file
changes nothing). While the store is down, files wait in the drop folder.
"""

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from dockscan.config import SiteConfig
from dockscan.errors import StoreError
from dockscan.ids import iso_ms, utcnow
from gateway.db import is_postgres
from gateway.manifests.importer import FileRejected, classifier_for, import_manifest
from gateway.manifests.intake import header_for_name, header_json, report_json
from gateway.manifests.model import ManifestError
from gateway.outage import one_line
from gateway.reconcile.matcher import rejudger
from gateway.store import open_db

logger = logging.getLogger(__name__)
TEMP_SUFFIXES = (".part", ".filepart", ".tmp", ".partial")
REPORT_SUFFIX = ".report.json"
# Failures that say nothing about the file: it waits and is tried again.
TRANSIENT = (StoreError, psycopg.OperationalError, sqlite3.OperationalError)
LOG_EVERY_S = 60.0
JOIN_S = 30.0


class Busy(Exception):
    """Another watcher with the same gateway id holds this folder."""


class _Retry(Exception):
    """The store failed: stop this pass and leave the files for the next one."""


@dataclass(frozen=True)
class Outcome:
    """One file taken: where it went and what its report says."""

    name: str
    status: str  # done or rejected
    path: Path
    report: dict[str, Any]


def ignored(name: str) -> bool:
    """Return whether a name in the drop folder is never taken (hidden, temporary, ours)."""
    lower = name.lower()
    return (
        name.startswith(".")
        or lower.endswith((*TEMP_SUFFIXES, REPORT_SUFFIX))
        or name in ("processing", "done", "rejected")
    )


def report_path(path: Path) -> Path:
    """Return the report written beside a file in done/ or rejected/."""
    return path.with_name(path.name + REPORT_SUFFIX)


def place(src: Path, folder: Path) -> Path:
    """Move src into folder without replacing anything there (numbering the name); return it."""
    folder.mkdir(exist_ok=True)
    stem, suffix = (src.stem, src.suffix) if src.suffix else (src.name, "")
    n = 0
    while True:
        dest = folder / (src.name if n == 0 else f"{stem}.{n}{suffix}")
        n += 1
        if dest.exists() or report_path(dest).exists():
            continue
        try:
            os.link(src, dest)  # fails if dest exists: two gateways never replace each other's
        except FileExistsError:
            continue
        except OSError:  # a filesystem without hard links
            if dest.exists():
                continue
            os.rename(src, dest)
            return dest
        os.unlink(src)
        return dest


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file whole or not at all (a temporary file renamed over it)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class DropWatcher:
    """Takes complete files from the drop folder, imports each and files it with its report."""

    def __init__(
        self, cfg: SiteConfig, holder: str | None = None, database: str | None = None
    ) -> None:
        self.cfg, self.manifests = cfg, cfg.manifests
        self.folder = Path(cfg.manifests.drop_folder)
        self.holder = holder or cfg.gateway.id
        self.database = database or cfg.gateway.database
        self.password = cfg.gateway.database_password()
        self.classifier = classifier_for(cfg)
        self.rejudge = rejudger(cfg, self.classifier)
        self.processing = self.folder / "processing" / self.holder
        self.seen: dict[str, tuple[tuple[int, int], float]] = {}  # name -> (size, mtime), since
        self.conn: Any = None
        self.lock_fd: int | None = None
        self.logged: dict[str, float] = {}

    def poll(self) -> list[Outcome]:
        """Look once: import what this gateway claimed before, then every settled new file."""
        if not self._lock():
            return []
        out: list[Outcome] = []
        try:
            left = self._claimed()
            ready = self._settled()
            if (left or ready) and self._connect() is None:
                return out
            for path in left:
                self._take(path, out)
            for name in ready:
                path = self._claim(name)
                if path is not None:
                    self._take(path, out)
        except _Retry:
            pass
        return out

    def once(self) -> list[Outcome]:
        """Take the files complete now (unchanged for drop_settle_s), waiting one settle period."""
        if not self._lock():
            raise Busy(f"another watcher as {self.holder} holds {self.processing}")
        out = self.poll()
        if self.seen:
            time.sleep(self.manifests.drop_settle_s)
            out += self.poll()
        return out

    def run(self, stop: threading.Event) -> None:
        """Poll every drop_poll_s until stop is set; a failure is logged and the next poll runs."""
        logger.info("watching %s for manifest files as %s (settle %g s)", self.folder,
                    self.holder, self.manifests.drop_settle_s)  # fmt: skip
        try:
            while not stop.is_set():
                try:
                    self.poll()
                except Exception as exc:
                    self._log("poll", f"manifest drop folder: {one_line(exc)}", exc)
                stop.wait(self.manifests.drop_poll_s)
        finally:
            self.close()

    def close(self) -> None:
        """Close the store connection and release the folder."""
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # releases the flock
            self.lock_fd = None

    # -- steps ------------------------------------------------------------------------------

    def _lock(self) -> bool:
        """Hold processing/<gateway>/.lock, so one watcher per gateway id uses the folder."""
        if self.lock_fd is not None:
            return True
        if not self.folder.is_dir():
            self._log("folder", f"manifests.drop_folder {self.folder} is not a folder (waiting)")
            return False
        self.processing.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.processing / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self._log("lock", f"another watcher as {self.holder} holds {self.processing}")
            return False
        self.lock_fd = fd
        return True

    def _claimed(self) -> list[Path]:
        """Return the files this gateway claimed and did not finish (a stop or a failed move)."""
        names = sorted(n for n in os.listdir(self.processing) if not n.startswith("."))
        return [self.processing / n for n in names if (self.processing / n).is_file()]

    def _settled(self) -> list[str]:
        """Note every candidate's size and mtime; return those unchanged for drop_settle_s."""
        now, present = time.monotonic(), {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if ignored(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # another gateway claimed it since the folder was read
                present[entry.name] = (st.st_size, st.st_mtime_ns)
        self.seen = {n: s for n, s in self.seen.items() if n in present}
        ready = []
        for name, key in sorted(present.items()):
            if self.seen.get(name, (None, 0.0))[0] != key:
                self.seen[name] = (key, now)
            if key[0] > 0 and now - self.seen[name][1] >= self.manifests.drop_settle_s:
                ready.append(name)
        return ready

    def _claim(self, name: str) -> Path | None:
        """Rename a settled file into processing/<gateway>/; None if another gateway was first."""
        self.seen.pop(name, None)
        dest = self.processing / name
        if dest.exists():
            return None  # its namesake is still here: this one waits for the next pass
        try:
            os.rename(self.folder / name, dest)
        except FileNotFoundError:
            return None
        return dest

    def _connect(self) -> Any:
        """Return the store connection, opening it; None (logged) while the store is down."""
        if self.conn is None:
            if not is_postgres(self.database) and not Path(self.database).exists():
                self._log("store", f"no database at {self.database} (files wait)")
                return None
            try:
                self.conn = open_db(self.database, self.password)
            except (*TRANSIENT, psycopg.Error, sqlite3.Error, OSError) as exc:
                self._log("store", f"cannot open the store (files wait): {one_line(exc)}")
        return self.conn

    def _take(self, path: Path, out: list[Outcome]) -> None:
        """Import one claimed file and file it; a failure leaves it claimed for the next pass."""
        try:
            out.append(self._import(path))
        except _Retry:
            raise
        except Exception as exc:
            self._log(f"file:{path.name}", f"manifest file {path}: {one_line(exc)}", exc)

    def _import(self, path: Path) -> Outcome:
        """Import a claimed file, then move it to done/ or rejected/ and write its report."""
        name = path.name
        try:
            header, fmt = header_for_name(name)
            report = import_manifest(self.conn, path, header, self.manifests, self.classifier,
                                     fmt=fmt, rejudge=self.rejudge)  # fmt: skip
        except FileRejected as exc:  # filed with every line's reason
            body = {"error": str(exc), "manifest": header_json(header), **report_json(exc.report)}
            return self._file(path, "rejected", body)
        except ManifestError as exc:
            return self._file(path, "rejected", {"error": str(exc)})
        except TRANSIENT as exc:
            self._drop_connection()
            self._log("store", f"importing {name}: the store failed (retried): {one_line(exc)}")
            raise _Retry from exc
        except Exception as exc:  # a bug, not the file: filed with its report (move it back)
            logger.exception("importing manifest file %s failed", path)
            self._drop_connection()
            return self._file(path, "rejected", {"error": f"internal error: {one_line(exc)}"})
        body = {"manifest": header_json(header), **report_json(report)}
        return self._file(path, "done", body)

    def _file(self, path: Path, status: str, body: dict[str, Any]) -> Outcome:
        """Move the file into done/ or rejected/ and write its report beside it."""
        dest = place(path, self.folder / status)
        report = {"file": path.name, "status": status, "stored_as": dest.name,
                  "gateway": self.holder, "finished": iso_ms(utcnow()), **body}  # fmt: skip
        write_json(report_path(dest), report)
        if status == "done":
            logger.info("%s, filed as %s", body["summary"], dest)
        else:
            logger.warning("%s rejected: %s", dest, body["error"])
        return Outcome(path.name, status, dest, report)

    def _drop_connection(self) -> None:
        """Close the store connection after a failure; the next pass opens a new one."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _log(self, key: str, message: str, exc: BaseException | None = None) -> None:
        """Log a problem at most once a minute per key (with the traceback for a crash)."""
        now = time.monotonic()
        if now - self.logged.get(key, -LOG_EVERY_S) >= LOG_EVERY_S:
            self.logged[key] = now
            if exc is None:
                logger.warning(message)
            else:
                logger.error(message, exc_info=exc)


def start(cfg: SiteConfig, stop: threading.Event) -> Callable[[], None] | None:
    """Watch manifests.drop_folder on a thread if set; return a function that sets stop, joins."""
    if not cfg.manifests.drop_folder:
        return None
    watcher = DropWatcher(cfg)
    thread = threading.Thread(target=watcher.run, args=(stop,), name="manifest-watch",
                              daemon=True)  # fmt: skip
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join(JOIN_S)
        if thread.is_alive():
            logger.warning("the manifest watcher did not stop within %g s", JOIN_S)

    return finish
