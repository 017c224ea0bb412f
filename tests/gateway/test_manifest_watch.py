"""The manifest drop folder: real files, real stores (both backends), real time, real processes."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dockscan.config import SiteConfig, parse_config
from gateway.manifests import closeout
from gateway.manifests.intake import header_for_name
from gateway.manifests.model import ManifestError
from gateway.manifests.watch import Busy, DropWatcher, ignored
from gateway.store import open_db
from tests.gateway.ingest_support import as_target, gateways_fixture, query, write_config
from tests.gateway.manifest_support import HEADER, good_rows, s10, write
from tests.support.broker import Mosquitto, wait_for

__all__ = ["gateways_fixture"]  # the `gateways` fixture
SHORT = "tracking_id,declared_kg"
MAWB = "mawb_176-12345675.csv"


def config(folder: Path, database: str, gateway_id: str = "gw-1", **manifests: Any) -> SiteConfig:
    """Return a site config watching `folder` (settle 0 unless given)."""
    settings = {"drop_folder": str(folder), "drop_settle_s": 0, "drop_poll_s": 0.05, **manifests}
    return parse_config({"site": {"id": "T1"}, "manifests": settings,
                         "gateway": {"id": gateway_id, "database": database}})  # fmt: skip


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """An empty drop folder."""
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


@pytest.fixture
def db(store_target: str) -> Any:
    """A migrated store on each backend."""
    conn = open_db(store_target)
    yield conn
    conn.close()


@pytest.fixture
def watcher(drop: Path, db: Any, store_target: str) -> Any:
    """A watcher as gw-1 over the drop folder and the store, closed after the test."""
    w = DropWatcher(config(drop, store_target))
    yield w
    w.close()


def stored(conn: Any, manifest_id: str = "mawb:176-12345675") -> int:
    """Return how many live lines a manifest has."""
    sql = "SELECT count(*) FROM manifest_lines WHERE manifest_id = ? AND removed_ms IS NULL"
    return conn.execute(sql, (manifest_id,)).fetchone()[0]


def report(path: Path) -> dict:
    """Read the report beside a filed manifest."""
    return json.loads(path.with_name(path.name + ".report.json").read_text())


def listing(folder: Path) -> list[str]:
    """Return the names in a folder, sorted ([] if it does not exist)."""
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_the_file_name_gives_the_header() -> None:
    header, fmt = header_for_name("flight_lh8400_2026-11-27_0930.csv")
    assert (header.id, header.carrier, fmt) == ("flight:LH8400/2026-11-27", "LH", "csv")
    assert header_for_name("uld_AKE12345CZ.jsonl")[0].id == "uld:AKE12345CZ"
    assert header_for_name("bag_B-0042.ndjson")[0].reference == "B-0042"
    for bad in ("manifest.csv", "mawb_.csv", "flight_LH8400.csv", "mawb_176-12345675.xlsx",
                "box_1.csv", "mawb_176-12345676.csv"):  # fmt: skip
        with pytest.raises(ManifestError, match=r"name it|check digit|suffix"):
            header_for_name(bad)
    assert all(ignored(n) for n in (".x.csv", "a.csv.part", "a.csv.FILEPART", "a.tmp",
                                    "a.csv.partial", "a.csv.report.json", "rejected"))  # fmt: skip
    assert not ignored(MAWB)


def test_a_growing_file_is_taken_only_once_it_settles(
    drop: Path, db: Any, store_target: str
) -> None:
    w = DropWatcher(config(drop, store_target, drop_settle_s=0.6))
    try:
        rows, target = good_rows(300), drop / MAWB
        with open(target, "w", encoding="utf-8") as out:
            out.write(HEADER + "\n")
            for i in range(0, 300, 60):  # a slow upload: 60 lines every 0.3 s
                out.writelines(row + "\n" for row in rows[i : i + 60])
                out.flush()
                assert w.poll() == [] and target.exists()
                time.sleep(0.3)
                assert w.poll() == [] and target.exists()
        taken = wait_for(w.poll, 3, 0.1, "the settled file")
        assert [(o.name, o.status) for o in taken] == [(MAWB, "done")]
        assert report(drop / "done" / MAWB)["lines"] == 300
        assert stored(db) == 300
    finally:
        w.close()


def test_temporary_hidden_empty_and_linked_files_are_left_alone(
    drop: Path, db: Any, watcher: DropWatcher
) -> None:
    body = "\n".join([SHORT, f"{s10(1)},1.5"]) + "\n"
    names = [f".{MAWB}", f"{MAWB}.part", f"{MAWB}.filepart", "mawb_176-12345675.tmp",
             f"{MAWB}.partial", "bag_B1.csv"]  # fmt: skip
    for name in names[:-1]:
        (drop / name).write_text(body)
    (drop / "bag_B1.csv").write_text("")  # an upload that has not written yet
    (drop / "uld_AKE12345CZ.csv").symlink_to(drop / f"{MAWB}.part")
    for _ in range(3):
        assert watcher.poll() == []
    assert listing(drop) == sorted([*names, "uld_AKE12345CZ.csv", "processing"])
    os.rename(drop / f"{MAWB}.filepart", drop / MAWB)  # the client renames once it is done
    assert [o.name for o in watcher.poll()] == [MAWB]
    assert stored(db) == 1


def test_bad_files_go_to_rejected_with_a_report(drop: Path, db: Any, store_target: str) -> None:
    w = DropWatcher(config(drop, store_target, max_file_mb=0.001))
    try:
        rows = [f"{s10(1)},1.5"]
        write(drop / "manifest.csv", rows, SHORT)
        write(drop / "mawb_176-12345676.csv", rows, SHORT)
        write(drop / "bag_B1.xlsx", rows, SHORT)
        write(drop / "bag_B2.csv", rows, "parcel,kg")
        write(drop / "bag_B3.csv", good_rows(40))  # over 1000 bytes
        outcomes = {o.name: o for o in w.poll()}
    finally:
        w.close()
    assert {n: o.status for n, o in outcomes.items()} == dict.fromkeys(
        ["manifest.csv", "mawb_176-12345676.csv", "bag_B1.xlsx", "bag_B2.csv", "bag_B3.csv"],
        "rejected",
    )
    rejected = drop / "rejected"
    errors = {n: report(rejected / n)["error"] for n in outcomes}
    assert "not a manifest file name: name it flight_" in errors["manifest.csv"]
    assert "check digit" in errors["mawb_176-12345676.csv"]
    assert "unknown suffix '.xlsx'" in errors["bag_B1.xlsx"]
    assert "has no column 'tracking_id'" in errors["bag_B2.csv"]
    assert "larger than manifests.max_file_mb" in errors["bag_B3.csv"]
    assert report(rejected / "bag_B2.csv")["status"] == "rejected"
    assert listing(drop) == ["processing", "rejected"]
    assert listing(drop / "processing" / "gw-1") == [".lock"]
    assert db.execute("SELECT count(*) FROM manifests").fetchone()[0] == 0


def test_a_good_file_goes_to_done_with_its_report_and_its_lines_stored(
    drop: Path, db: Any, watcher: DropWatcher
) -> None:
    rows = [f"{s10(1)},1.5", "RR123456784CN,1", f"{s10(2)},abc", f"{s10(3)},3"]
    write(drop / "flight_LH8400_2026-11-27.csv", rows, SHORT)
    [outcome] = watcher.poll()
    assert outcome.status == "done"
    assert outcome.path == drop / "done" / "flight_LH8400_2026-11-27.csv"
    got = report(outcome.path)
    assert got == outcome.report
    assert got["manifest"] == {"id": "flight:LH8400/2026-11-27", "kind": "flight",
                               "reference": "LH8400/2026-11-27", "carrier": "LH",
                               "flight": "LH8400", "flight_date": "2026-11-27"}  # fmt: skip
    assert (got["lines"], got["inserted"], got["rejected"]) == (4, 2, 2)
    assert got["rejects"] == [
        {"line_no": 3, "field": "tracking_id",
         "reason": "'RR123456784CN': S10 mod-11 check failed"},
        {"line_no": 4, "field": "declared_kg", "reason": "'abc' is not a number"},
    ]  # fmt: skip
    assert (got["file"], got["stored_as"], got["gateway"]) == (outcome.name, outcome.name, "gw-1")
    assert stored(db, "flight:LH8400/2026-11-27") == 2
    imports = db.execute("SELECT source_name, lines FROM manifest_imports").fetchall()
    assert [tuple(r) for r in imports] == [("flight_LH8400_2026-11-27.csv", 4)]


def test_a_file_of_rejected_lines_and_one_for_a_closed_manifest_go_to_rejected(
    drop: Path, db: Any, watcher: DropWatcher
) -> None:
    write(drop / "bag_B1.csv", ["RR123456784CN,1", f"{s10(1)},abc"], SHORT)
    [outcome] = watcher.poll()
    assert (outcome.status, outcome.path) == ("rejected", drop / "rejected" / "bag_B1.csv")
    got = report(outcome.path)
    assert got["error"] == "manifest bag:B1: bag_B1.csv: all 2 lines rejected, nothing imported"
    assert (got["manifest"]["id"], got["lines"], got["rejected"]) == ("bag:B1", 2, 2)
    assert [r["line_no"] for r in got["rejects"]] == [2, 3]
    assert db.execute("SELECT count(*) FROM manifests").fetchone()[0] == 0
    write(drop / MAWB, [f"{s10(1)},1.5"], SHORT)
    assert [o.status for o in watcher.poll()] == ["done"]
    closeout.close(db, "mawb:176-12345675", "dave", 1_764_000_000_000, "T1")
    write(drop / MAWB, [f"{s10(1)},1.5", f"{s10(2)},2"], SHORT)
    [outcome] = watcher.poll()
    assert (outcome.status, outcome.path.parent.name) == ("rejected", "rejected")
    assert report(outcome.path)["error"] == (
        "manifest 'mawb:176-12345675' was closed at 2025-11-24 16:00:00 UTC by dave: no file may"
        " change its lines any more, so its close-out report stands"
    )
    assert stored(db) == 1


def test_the_same_name_again_never_overwrites_an_earlier_file(
    drop: Path, db: Any, watcher: DropWatcher
) -> None:
    done = drop / "done"
    write(drop / MAWB, [f"{s10(1)},1.5", f"{s10(2)},2"], SHORT)
    assert [o.status for o in watcher.poll()] == ["done"]
    write(drop / MAWB, [f"{s10(1)},1.5"], SHORT)  # the carrier's corrected file
    assert [o.path.name for o in watcher.poll()] == ["mawb_176-12345675.1.csv"]
    write(drop / MAWB, [f"{s10(1)},1.5"], SHORT)  # and once more, unchanged
    assert [o.path.name for o in watcher.poll()] == ["mawb_176-12345675.2.csv"]
    names = [MAWB, "mawb_176-12345675.1.csv", "mawb_176-12345675.2.csv"]
    assert listing(done) == sorted([*names, *(n + ".report.json" for n in names)])
    assert len((done / MAWB).read_text().splitlines()) == 3  # the first file, as it came
    assert report(done / MAWB)["inserted"] == 2
    assert report(done / "mawb_176-12345675.1.csv")["removed"] == 1
    assert report(done / "mawb_176-12345675.2.csv")["already_imported"] is True
    assert stored(db) == 1


def test_a_failing_file_does_not_stop_the_watcher(drop: Path, db: Any, store_target: str) -> None:
    (drop / "rejected").write_text("an operator's mistake: not a folder")
    write(drop / "manifest.csv", [f"{s10(1)},1"], SHORT)
    w = DropWatcher(config(drop, store_target))
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,), name="manifest-watch-test")
    thread.start()
    try:
        time.sleep(0.3)  # several polls fail to file manifest.csv
        write(drop / MAWB, [f"{s10(1)},1"], SHORT)
        wait_for(lambda: (drop / "done" / MAWB).exists(), 5, 0.05, "the good file in done/")
        assert listing(drop / "processing" / "gw-1") == [".lock", "manifest.csv"]
        (drop / "rejected").unlink()
        wait_for(lambda: (drop / "rejected" / "manifest.csv").exists(), 5, 0.05, "rejected/")
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and w.lock_fd is None
    assert stored(db) == 1


def test_files_wait_while_the_store_is_missing(drop: Path, tmp_path: Path) -> None:
    database = tmp_path / "later" / "gw.db"
    w = DropWatcher(config(drop, str(database)))
    try:
        write(drop / MAWB, [f"{s10(1)},1"], SHORT)
        assert w.poll() == [] and (drop / MAWB).exists()
        database.parent.mkdir()
        open_db(database).close()
        assert [o.status for o in w.poll()] == ["done"]
    finally:
        w.close()


def test_a_claimed_file_left_by_a_stop_is_imported_at_the_next_start(
    drop: Path, db: Any, watcher: DropWatcher
) -> None:
    claimed = drop / "processing" / "gw-1"
    claimed.mkdir(parents=True)
    write(claimed / MAWB, [f"{s10(1)},1"], SHORT)
    assert [o.status for o in watcher.poll()] == ["done"]
    assert listing(claimed) == [".lock"] and stored(db) == 1


def test_one_watcher_per_gateway_id_and_each_file_once_among_gateways(
    drop: Path, db: Any, store_target: str
) -> None:
    twin = DropWatcher(config(drop, store_target, "gw-1"))
    first = DropWatcher(config(drop, store_target, "gw-1"))
    others = [DropWatcher(config(drop, store_target, f"gw-{i}")) for i in (2, 3)]
    try:
        assert first.poll() == []  # holds processing/gw-1/.lock
        with pytest.raises(Busy, match="another watcher as gw-1"):
            twin.once()
        names = [f"bag_B{i}.csv" for i in range(30)]
        for i, name in enumerate(names):
            write(drop / name, [f"{s10(i)},1"], SHORT)
        taken: list[list[str]] = [[], [], []]
        stop = threading.Event()

        def work(w: DropWatcher, out: list[str]) -> None:
            while not stop.is_set():
                out += [o.name for o in w.poll()]
                time.sleep(0.01)

        threads = [threading.Thread(target=work, args=(w, out))
                   for w, out in zip([first, *others], taken, strict=True)]  # fmt: skip
        for t in threads:
            t.start()
        wait_for(lambda: sum(map(len, taken)) >= len(names), 20, 0.05, "every file taken")
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        for w in (twin, first, *others):
            w.close()
    assert sorted(name for names in taken for name in names) == sorted(names)  # each file once
    assert listing(drop / "done") == sorted([*names, *(n + ".report.json" for n in names)])
    assert db.execute("SELECT count(*) FROM manifest_imports").fetchone()[0] == len(names)


def test_cli_watch_once(drop: Path, db: Any, store_target: str, tmp_path: Path) -> None:
    conf = tmp_path / "site.toml"
    conf.write_text(f'[site]\nid = "T1"\n[gateway]\ndatabase = "{store_target}"\n'
                    f'[manifests]\ndrop_folder = "{drop}"\ndrop_settle_s = 0.3\n')  # fmt: skip
    write(drop / MAWB, [f"{s10(1)},1", "RR123456784CN,1"], SHORT)
    write(drop / "bag.csv", [f"{s10(1)},1"], SHORT)
    (drop / "bag_B1.csv.part").write_text("still arriving")
    argv = [sys.executable, "-m", "dockscan", "gateway", "manifest", "watch", "--once",
            "-c", str(conf)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = sorted(done.stdout.splitlines())
    assert out[0].startswith(f"done\t{drop / 'done' / MAWB}\tmanifest mawb:176-12345675: ")
    assert "2 lines: 1 new, 0 updated, 0 unchanged, 0 removed, 1 rejected" in out[0]
    assert out[1].startswith(f"rejected\t{drop / 'rejected' / 'bag.csv'}\tbag.csv: not a manif")
    assert listing(drop) == ["bag_B1.csv.part", "done", "processing", "rejected"]
    conf.write_text(conf.read_text().replace(f'drop_folder = "{drop}"', 'drop_folder = ""'))
    unset = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert unset.returncode == 2 and "manifests.drop_folder: is not set" in unset.stderr


def test_gateway_run_watches_the_drop_folder(
    mosquitto: Mosquitto, tmp_path: Path, gateways: Any, store_target: str, drop: Path
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, stations=1, database=store_target)
    cfg.write_text(cfg.read_text() + f'[manifests]\ndrop_folder = "{drop}"\n'
                   "drop_settle_s = 0.2\n")  # fmt: skip
    gw = gateways(cfg)
    write(drop / MAWB, [f"{s10(1)},1", f"{s10(2)},2"], SHORT)
    wait_for(lambda: (drop / "done" / f"{MAWB}.report.json").exists(), 15, 0.1, "done/")
    sql = "SELECT count(*) FROM manifest_lines WHERE manifest_id = 'mawb:176-12345675'"
    assert query(as_target(store_target), sql) == [(2,)]
    assert report(drop / "done" / MAWB)["gateway"] == "gw-1"
    assert gw.stop() == 0
    assert f"watching {drop} for manifest files as gw-1" in gw.log.read_text()
