"""Stream manifest files (CSV with a mapped header, JSON lines) in bounded memory.

Each reader yields one Raw per data line: its first physical line number and its fields as
text, or the problem that makes it unreadable. A line, field or column count above the
configured bounds is rejected without being held whole; a file too big is refused outright.
"""

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson

from dockscan.config import MANIFEST_FIELDS, ManifestsConfig
from gateway.manifests.model import ManifestError

READ_CHUNK = 1 << 20


@dataclass
class Raw:
    """One data line as read: its fields, or (field, reason) when it cannot be read."""

    line_no: int
    fields: dict[str, str | None] = field(default_factory=dict)
    problem: tuple[str, str] | None = None


class Counted(io.RawIOBase):
    """A binary stream that hashes what it reads and refuses to read past `max_bytes`."""

    def __init__(self, raw: BinaryIO, max_bytes: int) -> None:
        self.raw, self.max_bytes = raw, max_bytes
        self.sha256, self.bytes = hashlib.sha256(), 0

    def readable(self) -> bool:
        """Return True: this stream is read only."""
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        """Read into `buffer`, counting and hashing the bytes."""
        data = self.raw.read(len(buffer))
        self.bytes += len(data)
        if self.bytes > self.max_bytes:
            raise ManifestError(
                f"file larger than manifests.max_file_mb ({self.max_bytes / 1e6:g} MB)"
            )
        self.sha256.update(data)
        buffer[: len(data)] = data
        return len(data)


def buffered(counted: Counted) -> io.BufferedReader:
    """Return a buffered reader over a Counted stream."""
    return io.BufferedReader(counted, READ_CHUNK)


def read_csv(stream: io.BufferedReader, cfg: ManifestsConfig) -> Iterator[Raw]:
    """Yield the data lines of a CSV file whose header names the columns cfg.columns maps."""
    limit = cfg.max_field_bytes
    csv.field_size_limit(limit)  # process-wide, and a sane bound for any reader
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    overlong: list[int] = []
    reader = csv.reader(_bounded_lines(text, limit, overlong), delimiter=cfg.delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ManifestError(f"line 1 (the header): {exc}") from None
    if header is None:
        raise ManifestError("the file is empty: a CSV manifest starts with its header")
    index = _header_index(header, cfg, bool(overlong))
    previous = reader.line_num
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise ManifestError(f"line {previous + 1}: {exc} (an unclosed quote?)") from None
        if row is None:
            return
        start, previous = previous + 1, reader.line_num
        if overlong:
            overlong.clear()
            yield Raw(start, problem=("", f"line longer than {limit} characters"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > cfg.max_columns:
            reason = f"{len(row)} columns, more than manifests.max_columns ({cfg.max_columns})"
            yield Raw(start, problem=("", reason))
        elif len(row) != len(header):
            yield Raw(start, problem=("", f"{len(row)} columns, the header has {len(header)}"))
        else:
            yield Raw(start, {name: row[i] for name, i in index.items()})


def _bounded_lines(text: io.TextIOWrapper, limit: int, overlong: list[int]) -> Iterator[str]:
    """Yield physical lines; one longer than `limit` is skipped unread and noted in `overlong`."""
    number = 0
    while True:
        line = text.readline(limit)
        if not line:
            return
        number += 1
        if len(line) >= limit and not line.endswith(("\n", "\r")):
            while (more := text.readline(limit)) and not more.endswith(("\n", "\r")):
                pass
            overlong.append(number)
            yield "\n"
            continue
        yield line


def _header_index(header: list[str], cfg: ManifestsConfig, overlong: bool) -> dict[str, int]:
    """Map each line field to its column, from the header and cfg.columns."""
    if overlong:
        raise ManifestError(f"line 1 (the header) is longer than {cfg.max_field_bytes} characters")
    if len(header) > cfg.max_columns:
        raise ManifestError(
            f"line 1 (the header) has {len(header)} columns,"
            f" more than manifests.max_columns ({cfg.max_columns})"
        )
    names = [name.strip() for name in header]
    for name in names:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ManifestError("line 1 (the header) is not valid UTF-8") from None
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        raise ManifestError(f"line 1 (the header) names columns twice: {twice}")
    wanted = {f: getattr(cfg.columns, f).strip() for f in MANIFEST_FIELDS}
    index = {f: names.index(col) for f, col in wanted.items() if col in names}
    if "tracking_id" not in index:
        raise ManifestError(
            f"line 1 (the header) has no column {wanted['tracking_id']!r}"
            " (manifests.columns.tracking_id names it)"
        )
    return index


def read_jsonl(stream: io.BufferedReader, cfg: ManifestsConfig) -> Iterator[Raw]:
    """Yield the lines of a JSON-lines file: one object per line, keys named as our fields."""
    limit = cfg.max_field_bytes
    number = 0
    while True:
        line = stream.readline(limit)
        if not line:
            return
        number += 1
        if len(line) >= limit and not line.endswith(b"\n"):
            while (more := stream.readline(limit)) and not more.endswith(b"\n"):
                pass
            yield Raw(number, problem=("", f"line longer than {limit} bytes"))
            continue
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line.strip():
            continue
        yield _json_line(number, line, cfg)


def _json_line(number: int, line: bytes, cfg: ManifestsConfig) -> Raw:
    """Read one JSON-lines object into text fields."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Raw(number, problem=("", f"not valid UTF-8 (at byte {exc.start})"))
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Raw(number, problem=("", f"not JSON: {exc}"))
    if not isinstance(data, dict):
        return Raw(number, problem=("", "not a JSON object"))
    if len(data) > cfg.max_columns:
        reason = f"{len(data)} keys, more than manifests.max_columns ({cfg.max_columns})"
        return Raw(number, problem=("", reason))
    fields: dict[str, str | None] = {}
    for name in MANIFEST_FIELDS:
        value = data.get(name)
        if value is None or isinstance(value, str):
            fields[name] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fields[name] = str(value)
        else:
            return Raw(number, problem=(name, "must be text or a number"))
    return Raw(number, fields)
