"""Manifest import on both backends: counts, rejects, one transaction, re-import, history."""

import json
from pathlib import Path
from typing import Any

import pytest

from dockscan.config import ManifestsConfig, parse_config
from gateway.manifests import closeout
from gateway.manifests.importer import FileRejected
from gateway.manifests.model import ManifestClosed, ManifestError, make_header
from tests.gateway.manifest_support import (
    HEADER,
    count,
    good_rows,
    lines,
    run,
    s10,
    write,
)


def test_good_file_is_imported_with_exact_counts(conn: Any, tmp_path: Path) -> None:
    report = run(conn, write(tmp_path / "m.csv", good_rows(2500)))
    assert (report.lines, report.inserted, report.rejected, report.updated) == (2500, 2500, 0, 0)
    got = lines(conn)
    assert len(got) == 2500
    assert got[s10(0)] == (2, 1.5, "item 0", False)
    assert got[s10(2499)] == (2501, 3.999, "item 2499", False)
    m = conn.execute("SELECT kind, reference, mawb, state, source_name, sha256 FROM manifests")
    assert m.fetchall() == [("mawb", "176-12345675", "176-12345675", "open", "m.csv",
                             report.sha256)]  # fmt: skip
    imp = conn.execute("SELECT lines, inserted, rejected, bytes FROM manifest_imports").fetchall()
    assert imp == [(2500, 2500, 0, (tmp_path / "m.csv").stat().st_size)]


def test_bad_lines_are_reported_and_good_ones_kept(conn: Any, tmp_path: Path) -> None:
    rows = good_rows(3)
    rows.insert(1, "RR123456784CN,1,,,,,,,,bad check digit")
    rows.insert(3, f"{s10(50)},-2,,,,,,,,negative")
    rows.append(f"{s10(51)},1,,,,,IM12,,,bad ioss")
    rows.append(f"{s10(52)},1,,,,,,ZZ,,bad country")
    rows.append(f"{s10(53)},1,,,,,,,12,bad hs")
    rows.append(f"{s10(54)},1,too,few")
    rows.append(f"{s10(0)},2,,,,,,,,listed twice")
    rows.append("")
    rows.append(f"{s10(55)},1,,,5,,,,,value without currency")
    seen: list[str] = []
    report = run(conn, write(tmp_path / "m.csv", rows), on_reject=lambda r: seen.append(str(r)))
    assert (report.inserted, report.rejected, report.lines) == (3, 8, 11)
    assert seen == [str(r) for r in report.rejects]
    assert [(r.line_no, r.field) for r in report.rejects] == [
        (3, "tracking_id"), (5, "declared_kg"), (7, "ioss"), (8, "country"), (9, "hs_code"),
        (10, ""), (13, "currency"), (11, "tracking_id"),
    ]  # fmt: skip
    assert "S10 mod-11 check failed" in report.rejects[0].reason
    assert "the header has 10" in report.rejects[5].reason
    assert report.rejects[-1].reason == f"{s10(0)} is listed already, on line 2"
    assert set(lines(conn)) == {s10(0), s10(1), s10(2)}


def test_a_file_failing_midway_writes_nothing(conn: Any, tmp_path: Path) -> None:
    first = run(conn, write(tmp_path / "m.csv", good_rows(5)))
    before = lines(conn)
    cfg = ManifestsConfig(max_field_bytes=1024)
    rows = good_rows(3000, kg=2.0) + [f'{s10(9000)},1,,,,,,,,"unclosed'] + ["x" * 1000] * 5
    with pytest.raises(ManifestError, match=r"line 3002: field larger than field limit"):
        run(conn, write(tmp_path / "m2.csv", rows), cfg=cfg)
    assert lines(conn) == before
    assert count(conn, "manifest_imports") == 1
    assert count(conn, "manifest_line_history") == 0
    sha = conn.execute("SELECT sha256 FROM manifests").fetchone()[0]
    assert sha == first.sha256
    with pytest.raises(ManifestError, match="no column 'tracking_id'"):
        run(conn, write(tmp_path / "m3.csv", good_rows(3), header="id,kg"))
    assert lines(conn) == before


def test_reimport_is_idempotent(conn: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", good_rows(10))
    run(conn, path)
    again = run(conn, path)
    assert again.already_imported and not again.changed
    assert "nothing changed" in again.summary()
    assert count(conn, "manifest_imports") == 1
    same = write(tmp_path / "copy.csv", list(reversed(good_rows(10))))  # other bytes, same lines
    report = run(conn, same)
    assert (report.unchanged, report.inserted, report.updated, report.removed) == (10, 0, 0, 0)
    assert "(nothing changed)" in report.summary()
    assert count(conn, "manifest_line_history") == 0
    assert lines(conn)[s10(9)][0] == 2  # line numbers follow the last file


def test_corrected_file_updates_lines_and_keeps_history(conn: Any, tmp_path: Path) -> None:
    run(conn, write(tmp_path / "m.csv", good_rows(4)))
    rows = good_rows(4)
    rows[1] = rows[1].replace("item 1", "item 1 corrected").replace(",1.501,", ",1.75,")
    rows[2] = f"{s10(2)},-1,,,,,,,,now bad"  # rejected: the stored values stand
    del rows[3]  # no longer listed
    rows.append(good_rows(6)[5])
    report = run(conn, write(tmp_path / "m2.csv", rows))
    assert (report.inserted, report.updated, report.unchanged, report.removed,
            report.rejected) == (1, 1, 1, 1, 1)  # fmt: skip
    got = lines(conn)
    assert got[s10(1)] == (3, 1.75, "item 1 corrected", False)
    assert got[s10(2)] == (4, 1.502, "item 2", False)
    assert bool(got[s10(3)][3])
    history = conn.execute(
        "SELECT tracking_id, change, declared_kg, description FROM manifest_line_history"
        " ORDER BY id"
    ).fetchall()
    assert [tuple(h) for h in history] == [
        (s10(1), "updated", 1.501, "item 1"), (s10(3), "removed", 1.503, "item 3"),
    ]  # fmt: skip
    restored = run(conn, write(tmp_path / "m3.csv", good_rows(4)))
    assert (restored.updated, restored.removed) == (2, 1)  # s10(1), s10(3) back; s10(5) gone
    assert lines(conn)[s10(3)] == (5, 1.503, "item 3", False)


def test_jsonl_lines(conn: Any, tmp_path: Path) -> None:
    path = tmp_path / "bag.jsonl"
    path.write_bytes(b"\n".join([
        json.dumps({"tracking_id": s10(1), "declared_kg": 1.2, "country": "FR",
                    "description": "=1+2", "extra": [1]}).encode(),
        json.dumps({"tracking_id": s10(2), "declared_value": 9.99, "currency": "USD"}).encode(),
        b"", b"[1, 2]", b"{not json", json.dumps({"tracking_id": s10(3), "hawb": True}).encode(),
        b'{"tracking_id": "' + s10(4).encode() + b'", "description": "caf\xe9"}',
        json.dumps({"declared_kg": 1}).encode(),
    ]) + b"\n")  # fmt: skip
    report = run(conn, path, header=make_header(bag="LGG-BAG-1"))
    assert (report.format, report.inserted, report.rejected) == ("jsonl", 2, 5)
    assert [(r.line_no, r.field) for r in report.rejects] == [
        (4, ""), (5, ""), (6, "hawb"), (7, ""), (8, "tracking_id")]  # fmt: skip
    assert "not valid UTF-8 (at byte" in report.rejects[3].reason
    got = lines(conn, "bag:LGG-BAG-1")
    assert got[s10(1)] == (1, 1.2, "=1+2", False)
    value = conn.execute(
        "SELECT declared_value, currency FROM manifest_lines WHERE tracking_id = ?", (s10(2),)
    ).fetchone()
    assert tuple(value) == ("9.99", "USD")


def test_column_mapping_from_config(conn: Any, tmp_path: Path) -> None:
    cfg = parse_config({"site": {"id": "T1"}, "manifests": {
        "delimiter": ";", "columns": {"tracking_id": "Tracking No", "declared_kg": "Gross Wt",
                                      "country": "Dest"}}}).manifests  # fmt: skip
    rows = [f"{s10(1)};1,25;BE;ignored", f"{s10(2)};0,5;DE;x"]
    path = write(tmp_path / "carrier.csv", rows, header="Tracking No;Gross Wt;Dest;Other")
    report = run(conn, path, header=make_header(flight="LH8400", flight_date="2026-11-27"),
                 cfg=cfg)  # fmt: skip
    assert (report.inserted, report.rejected) == (2, 0)
    assert lines(conn, "flight:LH8400/2026-11-27")[s10(1)] == (2, 1.25, None, False)


def test_hostile_text_is_stored_as_text_and_bad_utf8_is_per_line(conn: Any, tmp_path: Path) -> None:
    formula = '"=HYPERLINK(""http://evil.example"",""x"")"'
    body = (
        "\n".join(
            [
                HEADER,
                f"{s10(1)},1,,,,,,,,{formula}",
                f'{s10(2)},1,,,,,,,,"<script>alert(1)</script>"',
            ]
        ).encode()
        + b"\n"
        + f"{s10(3)},1,,,,,,,,bad ".encode()
        + b"\xff\xfe\n"
    )
    body += f"{s10(4)},1,,,,,,,,fine\n".encode()
    path = tmp_path / "hostile.csv"
    path.write_bytes(body)
    report = run(conn, path)
    assert (report.inserted, report.rejected) == (3, 1)
    assert (report.rejects[0].line_no, report.rejects[0].field) == (4, "description")
    got = lines(conn)
    assert got[s10(1)][2] == '=HYPERLINK("http://evil.example","x")'
    assert got[s10(2)][2] == "<script>alert(1)</script>"


def test_closed_manifest_and_other_unit_are_refused(conn: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", good_rows(2))
    run(conn, path)
    other = make_header(uld="AKE12345CZ", manifest_id="mawb:176-12345675")
    with pytest.raises(ManifestError, match="is the mawb"):
        run(conn, write(tmp_path / "m2.csv", good_rows(3)), header=other)
    closeout.close(conn, "mawb:176-12345675", "alice", 1_764_000_000_000, "T1")
    for again, worker in ((write(tmp_path / "m2.csv", good_rows(3)), True), (path, False)):
        with pytest.raises(ManifestClosed) as err:
            run(conn, again, worker=worker)
        assert str(err.value) == (
            "manifest 'mawb:176-12345675' was closed at 2025-11-24 16:00:00 UTC by alice: no file"
            " may change its lines any more, so its close-out report stands"
        )
    assert len(lines(conn)) == 2 and count(conn, "manifest_imports") == 1
    assert err.value.exit_code == 4


@pytest.mark.parametrize("worker", [False, True])
def test_a_file_whose_every_line_is_rejected_writes_nothing(
    conn: Any, tmp_path: Path, worker: bool
) -> None:
    bad = ["RR123456784CN,1,,,,,,,,bad check digit", f"{s10(1)},-1,,,,,,,,negative", ""]
    with pytest.raises(FileRejected) as err:
        run(conn, write(tmp_path / "bad.csv", bad), worker=worker)
    assert str(err.value) == (
        "manifest mawb:176-12345675: bad.csv: all 2 lines rejected, nothing imported"
    )
    assert (err.value.report.lines, err.value.report.rejected, err.value.exit_code) == (2, 2, 3)
    assert [(r.line_no, r.field) for r in err.value.report.rejects] == [
        (2, "tracking_id"), (3, "declared_kg")]  # fmt: skip
    assert count(conn, "manifests") == 0 and count(conn, "manifest_imports") == 0
    first = run(conn, write(tmp_path / "m.csv", good_rows(3)), worker=worker)
    semicolons = [row.replace(",", ";") for row in good_rows(3)]  # the wrong delimiter
    with pytest.raises(FileRejected, match="all 3 lines rejected"):
        run(conn, write(tmp_path / "m2.csv", semicolons), worker=worker)
    assert set(lines(conn)) == {s10(0), s10(1), s10(2)}  # none marked removed
    assert not any(removed for *_, removed in lines(conn).values())
    assert count(conn, "manifest_imports") == 1 and count(conn, "manifest_line_history") == 0
    assert conn.execute("SELECT sha256 FROM manifests").fetchone()[0] == first.sha256
