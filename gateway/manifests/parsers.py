"""Stream manifest files (CSV with a mapped header, JSON lines) in bounded memory.

Each reader yields one Raw per data line: its first physical line number, its fields as text
in MANIFEST_FIELDS order ('' for a field the file does not give), and the problem that makes it
unreadable (else None). A line, field or column count above the configured bounds is rejected
without being held whole; a file too big is refused outright.
"""

import csv
import io
from collections import deque
from collections.abc import Iterator
from itertools import chain
from operator import itemgetter
from typing import BinaryIO

import orjson

from dockscan.config import MANIFEST_FIELDS, ManifestsConfig
from gateway.manifests.lines import chunked_lines
from gateway.manifests.model import ManifestError

READ_CHUNK = 1 << 20


# (line number, the MANIFEST_FIELDS values, (field, reason) when the line cannot be read)
Raw = tuple[int, tuple[str, ...], tuple[str, str] | None]
NO_FIELDS = ("",) * len(MANIFEST_FIELDS)


def problem(line_no: int, field: str, reason: str) -> Raw:
    """Return a line that cannot be read: which field ('' for the whole line), and why."""
    return line_no, NO_FIELDS, (field, reason)


class Counted(io.RawIOBase):
    """A binary stream that counts what it reads and refuses to read past `max_bytes`."""

    def __init__(self, raw: BinaryIO, max_bytes: int) -> None:
        self.raw, self.max_bytes, self.bytes = raw, max_bytes, 0

    def readable(self) -> bool:
        """Return True: this stream is read only."""
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        """Read into `buffer`, counting the bytes."""
        got = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bytes += got
        if self.bytes > self.max_bytes:
            raise ManifestError(
                f"file larger than manifests.max_file_mb ({self.max_bytes / 1e6:g} MB)"
            )
        return got


def buffered(counted: Counted) -> io.BufferedReader:
    """Return a buffered reader over a Counted stream."""
    return io.BufferedReader(counted, READ_CHUNK)


def read_csv(stream: io.BufferedReader, cfg: ManifestsConfig) -> Iterator[Raw]:
    """Yield the data lines of a CSV file whose header names the columns cfg.columns maps."""
    limit = cfg.max_field_bytes
    csv.field_size_limit(limit)  # process-wide, and a sane bound for any reader
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    overlong: deque[int] = deque()  # numbers of the lines too long to read
    lines = chain.from_iterable(chunked_lines(text, limit, overlong))
    reader = csv.reader(lines, delimiter=cfg.delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ManifestError(f"line 1 (the header): {exc}") from None
    if header is None:
        raise ManifestError("the file is empty: a CSV manifest starts with its header")
    index = _header_index(header, cfg, bool(overlong) and overlong[0] <= reader.line_num)
    columns = len(header)  # a field the header lacks reads the '' appended to each row
    pick = itemgetter(*(index.get(name, columns) for name in MANIFEST_FIELDS))
    start = reader.line_num + 1  # the first physical line of the next row
    try:
        for row in reader:
            end = reader.line_num
            if overlong and overlong[0] <= end:
                while overlong and overlong[0] <= end:
                    overlong.popleft()
                yield problem(start, "", f"line longer than {limit} characters")
            elif not "".join(row).strip():
                pass
            elif len(row) == columns:
                row.append("")
                yield start, pick(row), None
            elif len(row) > cfg.max_columns:
                reason = f"{len(row)} columns, more than manifests.max_columns ({cfg.max_columns})"
                yield problem(start, "", reason)
            else:
                yield problem(start, "", f"{len(row)} columns, the header has {columns}")
            start = end + 1
    except csv.Error as exc:
        raise ManifestError(f"line {start}: {exc} (an unclosed quote?)") from None


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
            yield problem(number, "", f"line longer than {limit} bytes")
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
        return problem(number, "", f"not valid UTF-8 (at byte {exc.start})")
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return problem(number, "", f"not JSON: {exc}")
    if not isinstance(data, dict):
        return problem(number, "", "not a JSON object")
    if len(data) > cfg.max_columns:
        reason = f"{len(data)} keys, more than manifests.max_columns ({cfg.max_columns})"
        return problem(number, "", reason)
    fields: list[str] = []
    for name in MANIFEST_FIELDS:
        value = data.get(name)
        if value is None:
            fields.append("")
        elif isinstance(value, str):
            fields.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fields.append(str(value))
        else:
            return problem(number, name, "must be text or a number")
    return number, tuple(fields), None
