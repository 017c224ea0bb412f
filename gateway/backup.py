"""Online backup of the gateway store: a consistent copy taken while ingest keeps writing."""

import contextlib
import errno
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dockscan.errors import StoreError
from gateway.schema import schema_version
from gateway.store import BUSY_TIMEOUT_MS

TABLES = ("parcels", "parcel_codes", "dead_letters", "stations")
STEP_PAGES = 1024  # 4 MiB a step with the default 4 KiB page
PAUSE_S = 0.005


class BackupError(StoreError):
    """A backup could not be taken, or its copy failed the integrity check."""


class BackupTargetError(BackupError):
    """The output path cannot be used (exists without --force, or its directory is missing)."""

    exit_code = 2


@dataclass
class BackupResult:
    """What a finished backup wrote."""

    path: Path
    size_bytes: int
    seconds: float
    schema_version: int
    integrity: str
    counts: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    steps: int = 0
    restarts: int = 0


def check_target(dest: Path, force: bool) -> None:
    """Raise BackupTargetError unless `dest` can be written (replaced only with force)."""
    if not dest.parent.is_dir():
        raise BackupTargetError(f"cannot write {dest}: directory {dest.parent} does not exist")
    if dest.is_dir():
        raise BackupTargetError(f"cannot write {dest}: it is a directory")
    if dest.exists() and not force:
        raise BackupTargetError(f"{dest} exists; pass --force to overwrite it")


def backup(
    source: str | Path,
    dest: str | Path,
    force: bool = False,
    step_pages: int = STEP_PAGES,
    pause_s: float = PAUSE_S,
    quick: bool = False,
) -> BackupResult:
    """Copy the store at `source` to `dest` online, check the copy, then move it into place.

    The copy is one snapshot: a read transaction is held on the source for the whole copy, so
    the stepped backup never restarts when ingest commits (in WAL mode readers do not block
    the writer). Steps of `step_pages` pages with a `pause_s` sleep between them leave the disk
    to ingest. The copy is written beside `dest`, checked, fsynced and renamed; it is left in
    rollback-journal mode (one file, no -wal) and the gateway turns WAL on when it opens it.
    """
    source, dest = Path(source), Path(dest)
    check_target(dest, force)
    if not source.is_file():
        raise BackupError(f"no gateway database at {source}")
    started = time.monotonic()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        result = _copy(source, tmp, step_pages, pause_s, quick)
        _fsync(tmp)
        _place(tmp, dest, force)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    result.path = dest
    result.size_bytes = dest.stat().st_size
    result.seconds = time.monotonic() - started
    return result


def _copy(source: Path, tmp: Path, step_pages: int, pause_s: float, quick: bool) -> BackupResult:
    """Back `source` up into the empty file `tmp` and check it; return the copy's figures."""
    result = BackupResult(tmp, 0, 0.0, 0, "")
    remaining: list[int] = []

    def progress(status: int, left: int, total: int) -> None:
        """Count steps and restarts (pages left going up); pause so ingest gets the disk."""
        if remaining and left > remaining[-1]:
            result.restarts += 1
        remaining.append(left)
        result.steps, result.pages = result.steps + 1, total
        if left and pause_s > 0:
            time.sleep(pause_s)

    try:
        src = sqlite3.connect(source, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the gateway database {source}: {exc}") from exc
    try:
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.execute("BEGIN")  # the snapshot starts at the first read
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            src.backup(dst, pages=step_pages, progress=progress)
            src.execute("COMMIT")
            dst.execute("PRAGMA journal_mode = DELETE")
            _check(dst, result, quick)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} failed: {exc}") from exc
    finally:
        src.close()
    return result


def _check(conn: sqlite3.Connection, result: BackupResult, quick: bool) -> None:
    """Run the integrity check on the copy and read its schema version and row counts."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        problems = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as exc:  # too broken for the check to finish
        problems = [str(exc)]
    if problems != ["ok"]:
        raise BackupError(f"the copy failed {pragma}: {'; '.join(problems[:5])}")
    result.integrity = "ok"
    result.schema_version = schema_version(conn)
    if result.schema_version == 0:
        raise BackupError("the source is not a gateway database (it has no parcels table)")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    result.counts = {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES if t in tables
    }


def _fsync(path: Path) -> None:
    """Flush a file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _link(tmp: Path, dest: Path) -> None:
    """Move `tmp` to `dest` unless `dest` exists (FileExistsError), by hard link if possible."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise
    except OSError as exc:  # no hard links on this file system: check, then rename
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise
        if dest.exists():
            raise FileExistsError(dest) from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def _place(tmp: Path, dest: Path, force: bool) -> None:
    """Move the checked copy to `dest` atomically and fsync the directory.

    Without force a hard link puts it there, which fails if `dest` appeared meanwhile.
    """
    try:
        if force:
            os.replace(tmp, dest)
        else:
            _link(tmp, dest)
    except FileExistsError:
        raise BackupTargetError(f"{dest} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise BackupError(f"cannot move the copy to {dest}: {exc}") from exc
    fd = os.open(dest.parent, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some file systems cannot fsync a directory
            os.fsync(fd)
    finally:
        os.close(fd)
