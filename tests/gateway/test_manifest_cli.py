"""`dockscan gateway manifest` on both backends: import, refusals, list and show."""

import json
import subprocess
import sys
from pathlib import Path

from gateway.manifests import closeout
from gateway.store import open_db
from tests.gateway.manifest_support import (
    s10,
    write,
)


def test_cli_imports_and_reports(store_target: str, tmp_path: Path) -> None:
    conf = tmp_path / "site.toml"
    conf.write_text(f'[site]\nid = "T1"\n[gateway]\ndatabase = "{store_target}"\n'
                    '[manifests.columns]\ntracking_id = "Tracking No"\n')  # fmt: skip
    open_db(store_target).close()
    rows = [f"{s10(1)},1", "RR123456784CN,1", f"{s10(2)},2"]
    path = write(tmp_path / "lh.csv", rows, header="Tracking No,declared_kg")
    argv = [sys.executable, "-m", "dockscan", "gateway", "manifest", "import", str(path),
            "--flight", "LH8400", "--flight-date", "2026-11-27", "-c", str(conf)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"{path}: line 3, tracking_id: 'RR123456784CN': S10 mod-11 check failed" in done.stderr
    assert "3 lines: 2 new, 0 updated, 0 unchanged, 0 removed, 1 rejected" in done.stdout
    again = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(again.stdout)["already_imported"] is True
    bad = subprocess.run([*argv[:7], "--mawb", "176-12345676", "-c", str(conf)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 1 and "check digit" in bad.stderr


def test_cli_refuses_a_file_of_rejected_lines_and_a_closed_manifest(
    store_target: str, tmp_path: Path
) -> None:
    conf = tmp_path / "site.toml"
    conf.write_text(f'[site]\nid = "T1"\n[gateway]\ndatabase = "{store_target}"\n')
    open_db(store_target).close()
    short = "tracking_id,declared_kg"
    cli = [sys.executable, "-m", "dockscan", "gateway", "manifest", "import", "--mawb",
           "176-12345675", "-c", str(conf)]  # fmt: skip

    def dockscan(path: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, str(path), *args], capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    bad = write(tmp_path / "bad.csv", ["RR123456784CN,1", f"{s10(1)},abc"], short)
    done = dockscan(bad)
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{bad}: line 2, tracking_id: 'RR123456784CN': S10 mod-11 check failed",
        f"{bad}: line 3, declared_kg: 'abc' is not a number",
        "error: manifest mawb:176-12345675: bad.csv: all 2 lines rejected, nothing imported",
    ]
    as_json = dockscan(bad, "--json")
    got = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and (got["rejected"], got["inserted"]) == (2, 0)
    assert got["error"].endswith("all 2 lines rejected, nothing imported")
    assert [r["line_no"] for r in got["rejects"]] == [2, 3]
    good = write(tmp_path / "good.csv", [f"{s10(1)},1.5"], short)
    assert dockscan(good).returncode == 0
    conn = open_db(store_target)
    try:
        closeout.close(conn, "mawb:176-12345675", "bob", 1_764_000_000_000, "T1")
    finally:
        conn.close()
    closed = dockscan(write(tmp_path / "more.csv", [f"{s10(1)},1.5", f"{s10(2)},2"], short))
    assert closed.returncode == 4 and closed.stdout == ""
    assert closed.stderr == (
        "error: manifest 'mawb:176-12345675' was closed at 2025-11-24 16:00:00 UTC by bob: no"
        " file may change its lines any more, so its close-out report stands\n"
    )


def test_cli_lists_and_shows_manifests(store_target: str, tmp_path: Path) -> None:
    conf = tmp_path / "site.toml"
    conf.write_text(f'[site]\nid = "T1"\n[gateway]\ndatabase = "{store_target}"\n')
    open_db(store_target).close()
    cli = [sys.executable, "-m", "dockscan", "gateway", "manifest"]

    def dockscan(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*cli, *args, "-c", str(conf)], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        return done

    short = "tracking_id,declared_kg"
    first = write(tmp_path / "a.csv", [f"{s10(1)},1.5", f"{s10(2)},2", f"{s10(3)},3"], short)
    assert dockscan("import", str(first), "--mawb", "176-12345675").returncode == 0
    second = write(tmp_path / "b.csv", [f"{s10(1)},1.5", f"{s10(3)},3"], short)
    assert dockscan("import", str(second), "--mawb", "176-12345675").returncode == 0
    assert dockscan("import", str(first), "--uld", "AKE12345CZ").returncode == 0
    listed = [json.loads(x) for x in dockscan("list", "--json").stdout.splitlines()]
    by_id = {row["id"]: row for row in listed}
    assert by_id["mawb:176-12345675"]["lines"] == 3
    assert by_id["mawb:176-12345675"]["removed"] == 1
    assert by_id["uld:AKE12345CZ"]["lines"] == 3
    assert dockscan("list", "--state", "closed").stdout == ""
    shown = dockscan("show", "mawb:176-12345675")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"2\t{s10(1)}\t1.5 kg", f"3\t{s10(3)}\t3 kg"]
    every = [json.loads(x) for x in dockscan("show", "mawb:176-12345675", "--removed",
                                              "--json").stdout.splitlines()]  # fmt: skip
    assert [(r["tracking_id"], bool(r["removed_ms"])) for r in every] == [
        (s10(1), False), (s10(2), True), (s10(3), False)
    ]  # fmt: skip
    assert len(dockscan("show", "uld:AKE12345CZ", "--limit", "2").stdout.splitlines()) == 2
    missing = dockscan("show", "mawb:000-00000000")
    assert missing.returncode != 0 and "no manifest 'mawb:000-00000000'" in missing.stderr
