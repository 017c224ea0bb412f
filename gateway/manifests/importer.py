"""Import one manifest file in one transaction: good lines stored, bad lines reported."""

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockscan.codes import CodeClassifier
from dockscan.config import ManifestsConfig, SiteConfig
from gateway.clock import now_ms
from gateway.manifests import store
from gateway.manifests.batches import Batch, CheckedFile, Job, Reject
from gateway.manifests.model import Header, ManifestError
from gateway.manifests.worker import WorkerFile
from gateway.store import transaction

KEEP_REJECTS = 1000  # rejections kept in the Report; every one goes to on_reject
WORKER_MIN_BYTES = 8_000_000  # a file this big is read and checked in a second process


@dataclass
class Report:
    """What one import did."""

    manifest_id: str
    source_name: str
    sha256: str
    format: str
    bytes: int = 0
    lines: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: int = 0
    already_imported: bool = False
    rejudged: int = 0  # stored verdicts this import changed
    rejects: list[Reject] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return whether the import changed any stored line."""
        return bool(self.inserted or self.updated or self.removed)

    def summary(self) -> str:
        """Return a one-line account of the import."""
        if self.already_imported:
            return (
                f"manifest {self.manifest_id}: {self.source_name} was already imported"
                f" (sha256 {self.sha256[:12]}): nothing changed"
            )
        counts = (
            f"{self.lines} lines: {self.inserted} new, {self.updated} updated,"
            f" {self.unchanged} unchanged, {self.removed} removed, {self.rejected} rejected"
        )
        tail = "" if self.changed else " (nothing changed)"
        if self.rejudged:
            tail += f"; {self.rejudged} verdicts changed"
        return f"manifest {self.manifest_id}: {self.source_name}: {counts}{tail}"


class FileRejected(ManifestError):
    """Every data line of a file was rejected, so nothing was imported; `report` says why."""

    exit_code = 3

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(
            f"manifest {report.manifest_id}: {report.source_name}: all {report.rejected} lines"
            " rejected, nothing imported"
        )


def classifier_for(cfg: SiteConfig) -> CodeClassifier:
    """Return a classifier with every station's carrier patterns (as their scans are read)."""
    patterns: dict[str, str] = {}
    for station in cfg.stations:
        for name, regex in station.code_patterns.items():
            patterns.setdefault(name, regex)
    return CodeClassifier(patterns, where="stations.code_patterns")


def file_format(path: Path, fmt: str | None) -> str:
    """Return csv or jsonl: as given, else from the file name."""
    if fmt:
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    raise ManifestError(f"{path.name}: say --format csv or jsonl (unknown suffix {suffix!r})")


def core_free() -> bool:
    """Return whether a second process would find a core of its own (1-minute load average)."""
    cores = os.cpu_count() or 1
    return cores > 1 and os.getloadavg()[0] < cores - 0.5


def file_size(path: Path, max_bytes: int) -> int:
    """Return a file's size, refusing one larger than max_bytes."""
    size = os.stat(path).st_size
    if size > max_bytes:
        raise ManifestError(
            f"{path.name}: {size / 1e6:.1f} MB, larger than manifests.max_file_mb"
            f" ({max_bytes / 1e6:g} MB)"
        )
    return size


def file_sha256(path: Path) -> str:
    """Return a file's sha256."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def import_manifest(
    conn: Any,
    path: str | Path,
    header: Header,
    cfg: ManifestsConfig,
    classifier: CodeClassifier,
    *,
    fmt: str | None = None,
    on_reject: Callable[[Reject], None] | None = None,
    now: int | None = None,
    rejudge: Callable[[Any, str, int], int] | None = None,
    worker: bool | None = None,
) -> Report:
    """Import one file into `header`'s manifest in one transaction and return the report.

    A file whose sha256 matches the manifest's last import writes nothing. Lines a previous
    import stored and this file lacks are marked removed; changed lines keep their previous
    values in manifest_line_history. ManifestError (file too big, no header, a field running
    past max_field_bytes) leaves the store as it was; so do its kinds ManifestClosed (the
    manifest is closed) and FileRejected (every line was rejected; it carries the report).
    `rejudge(conn, manifest_id, now)` (the reconciler's) decides again, in the same
    transaction, the verdicts of parcels seen before the file came, so no verdict ever
    disagrees with the stored manifest. `worker`: read and check the file in a second process
    while this one writes (default: for a file of at least WORKER_MIN_BYTES when a core is
    free; on a busy host the second process would only take the ingest's core).
    """
    path = Path(path)
    max_bytes = int(cfg.max_file_mb * 1_000_000)
    fmt = file_format(path, fmt)
    try:
        size = file_size(path, max_bytes)
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror}") from None
    now = now_ms() if now is None else now
    old = store.manifest(conn, header.id)
    if old is not None and old[3] != "open":
        raise store.closed(old)
    use_worker = size >= WORKER_MIN_BYTES and core_free() if worker is None else worker
    source = (WorkerFile if use_worker else CheckedFile)(Job(path, fmt, cfg, classifier, max_bytes))
    with source:  # a second process starts while the file is hashed
        try:
            sha = file_sha256(path)
        except OSError as exc:
            raise ManifestError(f"cannot read {path}: {exc.strerror}") from None
        report = Report(header.id, path.name, sha, fmt)
        if old is not None and old[4] == sha:
            report.already_imported = True
            return report
        with transaction(conn):
            _import(conn, source, header, report, now, on_reject, rejudge)
    return report


def _import(
    conn: Any,
    source: CheckedFile | WorkerFile,
    header: Header,
    report: Report,
    now: int,
    on_reject: Callable[[Reject], None] | None,
    rejudge: Callable[[Any, str, int], int] | None,
) -> None:
    """Write the file's lines in the caller's transaction and fill in the report."""
    store.ensure_manifest(conn, header, now)
    fresh = not store.has_lines(conn, header.id)
    name, sha = report.source_name, report.sha256
    import_id = store.start_import(conn, header.id, now, name, sha, report.format)
    source.stamp(header.id, import_id, now)
    writer = _Writer(conn, header.id, import_id, now, fresh, report, on_reject)
    for batch in source:
        writer.write(batch)
    report.bytes = source.bytes
    if report.rejected and not (report.inserted or report.updated or report.unchanged):
        raise FileRejected(report)  # rolls back: the manifest stays as it was
    if not fresh:
        report.removed = store.remove_unlisted(conn, header.id, import_id, now)
    store.finish_import(conn, import_id, vars(report))
    store.finish_manifest(conn, header.id, now, name, sha)
    if rejudge is not None and report.changed:
        report.rejudged = rejudge(conn, header.id, now)


class _Writer:
    """Stores the batches of one import and counts what they did in its report."""

    def __init__(
        self,
        conn: Any,
        manifest_id: str,
        import_id: int,
        now: int,
        fresh: bool,
        report: Report,
        on_reject: Callable[[Reject], None] | None,
    ) -> None:
        self.conn, self.manifest_id, self.import_id, self.now = conn, manifest_id, import_id, now
        self.fresh, self.report, self.on_reject = fresh, report, on_reject

    def write(self, batch: Batch) -> None:
        """Report the batch's rejected lines, store its good ones, report ids listed twice."""
        report = self.report
        report.lines += batch.lines
        for item in batch.rejects:
            self.reject(item)
        written = store.write_lines(self.conn, self.manifest_id, self.import_id, batch.rows,
                                    self.now, self.fresh)  # fmt: skip
        report.inserted += written.inserted
        report.updated += written.updated
        report.unchanged += written.unchanged
        for line_no, tracking_id, first in written.duplicates:
            self.reject(Reject(line_no, "tracking_id",
                               f"{tracking_id} is listed already, on line {first}"))  # fmt: skip
        if batch.seen and not self.fresh:
            store.mark_seen(self.conn, self.manifest_id, self.import_id, batch.seen)

    def reject(self, item: Reject) -> None:
        """Count a rejected line, keep the first KEEP_REJECTS, pass each to on_reject."""
        self.report.rejected += 1
        if len(self.report.rejects) < KEEP_REJECTS:
            self.report.rejects.append(item)
        if self.on_reject is not None:
            self.on_reject(item)
