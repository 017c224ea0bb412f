"""Barcode photo corpora for the decode benchmark: MANIFEST.tsv or ZXing's black-box layout.

Two layouts are read:

- manifest: a folder with MANIFEST.tsv at the top (columns path, format, expected_text, source,
  expected_kind; text escaped as \\\\, \\t, \\n, \\r, \\xNN, a cell holding a double quote is
  quoted CSV-style; kind `hex` means bytes given as hex), like the subset in tests/data/photos;
- black-box: folders named <format>-<n> (code128-1, ean13-2, qrcode-3 ...) holding images
  (.png/.jpg/.jpeg/.gif/.webp), each with an expected file of the same stem: .txt (UTF-8) or .bin
  (bytes), as in zxing/zxing core/src/test/resources/blackbox and zxing-cpp test/samples.
"""

import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "tests" / "data" / "photos"
FORMATS = ("code128", "ean13", "itf", "code39", "qrcode", "datamatrix", "pdf417")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MANIFEST = "MANIFEST.tsv"
MANIFEST_COLUMNS = ("path", "format", "expected_text", "source", "expected_kind")
UPSTREAM = "https://github.com/zxing/zxing"
UPSTREAM_COMMIT = "7f129804e396"
WHERE_TO_GET = (
    f"git clone {UPSTREAM}, then --photos zxing/core/src/test/resources/blackbox "
    f"(commit {UPSTREAM_COMMIT} was measured), or zxing-cpp's test/samples"
)
_FOLDER = re.compile(r"^(?P<fmt>[a-z0-9][a-z0-9-]*?)-(?P<n>\d+)$")


class CorpusError(Exception):
    """A corpus folder that cannot be read: missing, empty or malformed."""


@dataclass(frozen=True)
class Entry:
    """One photograph: its path, format and expected content (hex when is_hex)."""

    path: Path
    fmt: str
    expected: str
    is_hex: bool


@dataclass
class Corpus:
    """The photographs found under one root, how they were laid out and what was skipped."""

    root: Path
    layout: str
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return the number of photographs per format, in FORMATS order."""
        found = Counter(e.fmt for e in self.entries)
        return {fmt: found[fmt] for fmt in FORMATS if found[fmt]}


def unescape(text: str) -> str:
    """Undo the MANIFEST.tsv escapes: \\\\, \\t, \\n, \\r and \\xNN."""
    out, i = [], 0
    simple = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt == "x":
                out.append(chr(int(text[i + 2 : i + 4], 16)))
                i += 4
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def folder_format(name: str) -> str | None:
    """Return the format of a black-box folder name (code128-1 → code128), None if not one."""
    match = _FOLDER.match(name)
    return match["fmt"] if match else None


def read_manifest(root: Path) -> Corpus:
    """Read a folder with MANIFEST.tsv at the top."""
    text = (root / MANIFEST).read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    if not rows or tuple(rows[0]) != MANIFEST_COLUMNS:
        raise CorpusError(f"{root / MANIFEST}: header must be {' '.join(MANIFEST_COLUMNS)}")
    entries, skipped = [], Counter()
    for number, cells in enumerate(rows[1:], start=2):
        if len(cells) != len(MANIFEST_COLUMNS):
            raise CorpusError(f"{root / MANIFEST}:{number}: expected 5 tab-separated columns")
        rel, fmt, expected, _source, kind = cells
        if fmt not in FORMATS:
            skipped[fmt] += 1
            continue
        if kind not in ("text", "hex"):
            raise CorpusError(f"{root / MANIFEST}:{number}: expected_kind must be text or hex")
        path = root / rel
        if not path.is_file():
            raise CorpusError(f"{root / MANIFEST}:{number}: {rel} is missing")
        entries.append(
            Entry(path, fmt, expected if kind == "hex" else unescape(expected), kind == "hex")
        )
    notes = [
        f"skipped {n} {fmt} photos: format not supported" for fmt, n in sorted(skipped.items())
    ]
    return Corpus(root, "manifest", entries, notes)


def _expected(image: Path) -> tuple[str, bool] | None:
    """Return the expected content of a black-box image (.txt first, then .bin), None if none."""
    text = image.with_suffix(".txt")
    if text.is_file():
        return text.read_bytes().decode("utf-8"), False
    binary = image.with_suffix(".bin")
    if binary.is_file():
        return binary.read_bytes().hex(), True
    return None


def read_blackbox(root: Path) -> Corpus:
    """Read every <format>-<n> folder under root (root itself may be one)."""
    entries: list[Entry] = []
    unsupported: Counter[str] = Counter()
    unmatched: Counter[str] = Counter()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(folder)
        images = sorted(f for f in files if f.lower().endswith(IMAGE_SUFFIXES))
        fmt = folder_format(here.name)
        if not images or fmt is None:
            continue
        if fmt not in FORMATS:
            unsupported[here.name] += len(images)
            continue
        for name in sorted(images, key=_natural):
            expected = _expected(here / name)
            if expected is None:
                unmatched[here.name] += 1
                continue
            entries.append(Entry(here / name, fmt, expected[0], expected[1]))
    notes = []
    if unsupported:
        names = ", ".join(sorted(unsupported))
        notes.append(f"skipped {sum(unsupported.values())} photos in unsupported formats: {names}")
    for name, n in sorted(unmatched.items()):
        notes.append(f"skipped {n} photos in {name}: no .txt/.bin of the same name")
    return Corpus(root, "black-box", entries, notes)


def _natural(name: str) -> tuple:
    """Sort key putting 2.png before 10.png."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def open_corpus(root: Path | None = None) -> Corpus:
    """Read the corpus under root (the shipped subset when None); raise CorpusError if empty."""
    root = SHIPPED if root is None else root
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder; for the full ZXing corpus: {WHERE_TO_GET}")
    corpus = read_manifest(root) if (root / MANIFEST).is_file() else read_blackbox(root)
    if not corpus.entries:
        raise CorpusError(
            f"{root}: no photos found (neither {MANIFEST} nor <format>-<n> folders with "
            f".txt/.bin expected files); for the full ZXing corpus: {WHERE_TO_GET}"
        )
    return corpus


def describe(corpus: Corpus) -> str:
    """Return the one-line corpus description the benchmark prints first."""
    counts = ", ".join(f"{fmt} {n}" for fmt, n in corpus.counts().items())
    n = len(corpus.entries)
    if corpus.root.resolve() == SHIPPED.resolve():
        head = (
            f"corpus: shipped subset ({n} photos in tests/data/photos) — pass --photos DIR for "
            "the full ZXing corpus (see bench/README.md)"
        )
    else:
        head = f"corpus: {corpus.root} ({corpus.layout} layout, {n} photos)"
    return "\n".join([head, f"formats: {counts}", *(f"note: {note}" for note in corpus.notes)])
