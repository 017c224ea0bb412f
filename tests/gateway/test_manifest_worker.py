"""Manifest import with its lines checked in a second process: same result, nothing half-written."""

from pathlib import Path
from typing import Any

import pytest

from dockscan.config import ManifestsConfig
from gateway.manifests.model import ManifestError, make_header
from tests.gateway.manifest_support import (
    count,
    good_rows,
    lines,
    run,
    s10,
    write,
)


def mixed_rows(n: int) -> list[str]:
    """Return n data rows: mostly good, some rejected, some ids listed twice across batches."""
    rows = good_rows(n)
    for i in range(0, n, 97):
        rows[i] = rows[i].replace(",BE,", ",ZZ,")  # bad country: the id is known
    for i in range(50, n, 501):
        rows[i] = f"{s10(i - 2100 if i > 2100 else i - 1)},1,,,,,,,,twice"
    rows[7] = "RR123456784CN,1,,,,,,,,bad check digit"
    return rows


def children() -> set[int]:
    """Return the pids of this process's children (its threads' too)."""
    pids = set()
    for task in Path("/proc/self/task").iterdir():
        pids |= {int(p) for p in (task / "children").read_text().split()}
    return pids


def test_second_process_imports_exactly_as_in_process(conn: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", mixed_rows(6000))
    here = make_header(bag="HERE")
    there = make_header(bag="THERE")
    got = {}
    for header, worker in ((here, False), (there, True)):
        first = run(conn, path, header=header, worker=worker)
        rows = mixed_rows(6000)
        rows[10] = rows[10].replace("item 10", "item 10 corrected")
        del rows[20]
        fixed = run(conn, write(tmp_path / f"m-{worker}.csv", rows), header=header, worker=worker)
        got[worker] = [
            {k: v for k, v in vars(r).items() if k not in ("manifest_id", "sha256", "source_name")}
            for r in (first, fixed)
        ]
        got[worker].append(sorted(lines(conn, header.id).items()))
    assert got[True] == got[False]
    first, fixed, _ = got[True]
    # 61 bad countries, 1 bad check digit, 11 ids listed twice (one's first line was rejected)
    assert (first["lines"], first["inserted"], first["rejected"]) == (6000, 5927, 73)
    assert (fixed["updated"], fixed["removed"], fixed["unchanged"]) == (1, 1, 5925)
    assert "is listed already, on line" in str(first["rejects"][-1])


def test_second_process_refusing_the_file_midway_writes_nothing(conn: Any, tmp_path: Path) -> None:
    before = children()  # servers this test process started for earlier tests stay
    rows = good_rows(5000) + [f'{s10(9000)},1,,,,,,,,"unclosed'] + ["x" * 100] * 5
    cfg = ManifestsConfig(max_field_bytes=256)
    with pytest.raises(ManifestError, match=r"line 5002: field larger than field limit"):
        run(conn, write(tmp_path / "m.csv", rows), cfg=cfg, worker=True)
    assert count(conn, "manifest_lines") == 0 and count(conn, "manifest_imports") == 0
    assert children() == before


def test_second_process_is_stopped_when_the_import_fails(conn: Any, tmp_path: Path) -> None:
    def fail(reject: Any) -> None:
        raise RuntimeError(f"stop at {reject}")

    before = children()
    rows = good_rows(9000)
    rows.insert(3000, "RR123456784CN,1")
    path = write(tmp_path / "m.csv", rows)
    with pytest.raises(RuntimeError, match="stop at line 3002"):
        run(conn, path, worker=True, on_reject=fail)
    assert children() == before
    assert count(conn, "manifest_lines") == 0
