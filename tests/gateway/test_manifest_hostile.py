"""Hostile manifest files: huge files, fields and column counts stay in bounded memory."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dockscan.codes import s10_with_check

MB = 1_000_000
RSS_LIMIT_MB = 200
# Imports FILE in a fresh process and prints the report and its peak RSS: VmHWM of its own
# address space (ru_maxrss would count the forking pytest process's size too on Linux), and
# that of the second process that reads and checks a large file, as it logs it.
CHILD = """
import json, logging, sys
from dockscan.codes import CodeClassifier
from dockscan.config import ManifestsConfig
from dockscan.errors import DockscanError
from gateway.manifests.importer import import_manifest
from gateway.manifests.model import make_header
from gateway.store import open_db

class Peaks(logging.Handler):
    def emit(self, record):
        peaks.append(record.args[0] / 1024)

peaks = []
logging.getLogger("gateway.manifests.worker").setLevel(logging.DEBUG)
logging.getLogger("gateway.manifests.worker").addHandler(Peaks())
db, path, max_mb, worker = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "worker"
conn = open_db(db)
try:
    r = import_manifest(conn, path, make_header(bag="B1"), ManifestsConfig(max_file_mb=max_mb),
                        CodeClassifier(), worker=worker)
    out = {"inserted": r.inserted, "rejected": r.rejected,
           "rejects": [[x.line_no, x.field, x.reason] for x in r.rejects]}
except DockscanError as exc:
    out = {"error": str(exc)}
out["lines_in_store"] = conn.execute("SELECT count(*) FROM manifest_lines").fetchone()[0]
hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
out["rss_mb"] = int(hwm.split()[1]) / 1024
out["worker_rss_mb"] = peaks
print(json.dumps(out))
"""


def child(db: Path, path: Path, max_mb: float = 300, mode: str = "worker") -> dict:
    """Run the import in a subprocess; return its report with rss_mb (and worker_rss_mb)."""
    argv = [sys.executable, "-c", CHILD, str(db), str(path), str(max_mb), mode]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def good(i: int) -> bytes:
    """Return one valid CSV data row."""
    return f"{s10_with_check('RR', i, 'CN')},1.5,,,,,,,,ok\n".encode()


def repeat(fh: object, piece: bytes, total: int) -> None:
    """Write `piece` repeatedly until `total` bytes (no newline), in 1 MB writes."""
    chunk = piece * (MB // len(piece))
    left = total
    while left > 0:
        fh.write(chunk[:left])  # type: ignore[attr-defined]
        left -= len(chunk)


HEADER = (
    b"tracking_id,declared_kg,hawb,bag,declared_value,currency,ioss,country,hs_code,description\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["worker", "inline"])
def test_a_200_mb_file_with_a_100_mb_field_and_10_million_columns(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "hostile.csv"
    with open(path, "wb") as fh:
        fh.write(HEADER + good(1))
        fh.write(good(2)[:-4])
        repeat(fh, b"A", 100 * MB)  # line 3: a 100 MB field
        fh.write(b"\n" + good(3))
        repeat(fh, b",", 10_000_000)  # line 5: 10 million columns
        fh.write(b"\n")
        repeat(fh, b"x,", 90 * MB)  # line 6: 45 million more
        fh.write(b"\n" + good(4))
    assert path.stat().st_size > 200 * MB
    got = child(tmp_path / "gw.db", path, mode=mode)
    assert (got["inserted"], got["rejected"], got["lines_in_store"]) == (3, 3, 3)
    assert [r[:2] for r in got["rejects"]] == [[3, ""], [5, ""], [6, ""]]
    assert all("line longer than 65536 characters" in r[2] for r in got["rejects"])
    assert got["rss_mb"] < RSS_LIMIT_MB, got
    assert all(rss < RSS_LIMIT_MB for rss in got["worker_rss_mb"]), got
    assert len(got["worker_rss_mb"]) == (mode == "worker")


def test_a_file_over_max_file_mb_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "wb") as fh:
        fh.write(HEADER)
        fh.truncate(200 * MB)  # sparse: 200 MB without writing them
    got = child(tmp_path / "gw.db", path, max_mb=100)
    assert "larger than manifests.max_file_mb (100 MB)" in got["error"]
    assert got["lines_in_store"] == 0 and got["rss_mb"] < RSS_LIMIT_MB


@pytest.mark.slow
def test_a_100_mb_quoted_field_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    with open(path, "wb") as fh:
        fh.write(HEADER + good(1) + good(2)[:-3] + b'"')
        repeat(fh, b"word word word\n", 100 * MB)
        fh.write(b'"\n' + good(3))
    got = child(tmp_path / "gw.db", path)
    assert "line 3: field larger than field limit (65536)" in got["error"]
    assert got["lines_in_store"] == 0  # one transaction: lines 1-2 were not kept either
    assert got["rss_mb"] < RSS_LIMIT_MB, got
    assert len(got["worker_rss_mb"]) == 1 and got["worker_rss_mb"][0] < RSS_LIMIT_MB, got


@pytest.mark.slow
def test_a_100_mb_json_line(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as fh:
        fh.write(b'{"tracking_id": "' + s10_with_check("RR", 1, "CN").encode() + b'"}\n')
        fh.write(b'{"description": "')
        repeat(fh, b"<b>", 100 * MB)
        fh.write(b'"}\n{"tracking_id": "' + s10_with_check("RR", 2, "CN").encode() + b'"}\n')
    got = child(tmp_path / "gw.db", path)
    assert (got["inserted"], got["rejected"]) == (2, 1)
    assert got["rejects"][0][:2] == [2, ""] and "longer than 65536 bytes" in got["rejects"][0][2]
    assert got["rss_mb"] < RSS_LIMIT_MB, got
    assert len(got["worker_rss_mb"]) == 1 and got["worker_rss_mb"][0] < RSS_LIMIT_MB, got
