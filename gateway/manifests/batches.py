"""Read and check a manifest file into batches: the lines to store and the lines rejected."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from dockscan.codes import CodeClassifier
from dockscan.config import ManifestsConfig
from gateway.manifests.fastline import Checked, LineChecker
from gateway.manifests.model import Invalid
from gateway.manifests.parsers import Counted, Raw, buffered, read_csv, read_jsonl

BATCH_LINES = 2000


@dataclass(frozen=True)
class Reject:
    """One line not imported: where, which field ('' for the whole line), why."""

    line_no: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line_no}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.reason}"


@dataclass
class Batch:
    """Up to BATCH_LINES data lines of a file, checked."""

    lines: int = 0
    rows: list[Checked] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)  # in line order
    seen: list[str] = field(default_factory=list)  # ids of rejected lines whose id is fine


@dataclass(frozen=True)
class Job:
    """A file to read and check: its format, the [manifests] settings, the code classifier."""

    path: Path
    fmt: str
    cfg: ManifestsConfig
    classifier: CodeClassifier
    max_bytes: int
    batch_lines: int = BATCH_LINES


class CheckedFile:
    """The batches of one file, read and checked in this process; `bytes` once read."""

    def __init__(self, job: Job) -> None:
        self.job, self.checker, self.bytes = job, LineChecker(job.classifier), 0

    def __enter__(self) -> "CheckedFile":
        """Return self: reading starts with the first batch asked for."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Nothing to stop: the file is closed when iteration ends."""

    def stamp(self, manifest_id: str, import_id: int, now: int) -> None:
        """Set the import the lines are for; iterate after this."""
        self.checker.stamp(manifest_id, import_id, now)

    def __iter__(self) -> Iterator[Batch]:
        """Yield the file's batches; raise ManifestError when the file cannot be read at all."""
        check, known_id, job = self.checker.check, self.checker.known_id, self.job
        reader = read_jsonl if job.fmt == "jsonl" else read_csv
        with open(job.path, "rb") as raw:
            counted = Counted(raw, job.max_bytes)
            lines = reader(buffered(counted), job.cfg)
            while batch := self._batch(lines, check, known_id):
                yield batch
            self.bytes = counted.bytes

    def _batch(
        self,
        lines: Iterator[Raw],
        check: Callable[[int, tuple[str, ...]], Checked],
        known_id: Callable[[str], str | None],
    ) -> Batch | None:
        """Read and check up to batch_lines lines; None at the end of the file."""
        batch = Batch()
        rows, rejects = batch.rows, batch.rejects
        for line_no, values, problem in islice(lines, self.job.batch_lines):
            if problem is None:
                try:
                    rows.append(check(line_no, values))
                    continue
                except Invalid as exc:
                    problem = (exc.field, exc.reason)
                    if exc.field != "tracking_id" and (known := known_id(values[0])):
                        batch.seen.append(known)
            rejects.append(Reject(line_no, *problem))
        batch.lines = len(rows) + len(rejects)
        return batch if batch.lines else None
