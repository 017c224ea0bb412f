"""End to end over real processes: simulator, edge agent, Mosquitto, gateway, SQLite, UI."""

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.broker import Mosquitto, free_port, wait_for, wait_port
from tests.support.procs import Procs, get_json, get_text

pytestmark = pytest.mark.e2e


def site_toml(work: Path, broker_url: str, http_port: int, stations: int = 1) -> Path:
    """Write a site config with simulated serial stations and return its path."""
    text = (
        f'[site]\nid = "LGG"\ntimezone = "Europe/Brussels"\n'
        f'[broker]\nurl = "{broker_url}"\nkeepalive_s = 5\n'
        f'[gateway]\ndatabase = "{work / "gateway.db"}"\nhttp_bind = "127.0.0.1:{http_port}"\n'
    )
    for i in range(1, stations + 1):
        sid = f"dock{i:02d}"
        text += (
            f'[[stations]]\nid = "{sid}"\ndock = "{i:02d}"\noutbox = "{work / sid}-outbox.db"\n'
            "telemetry_interval_s = 2\n"
            f'[[stations.devices]]\nkind = "scale"\nid = "scale"\nprotocol = "mt-sics"\n'
            f'port = "{work / sid}-scale"\nsettle_ms = 200\n'
            f'[[stations.devices]]\nkind = "scanner"\nid = "scanner"\n'
            f'port = "{work / sid}-scanner"\n'
        )
    path = work / "site.toml"
    path.write_text(text)
    return path


def ok_rows(db: Path) -> list[tuple[str, str, str]]:
    """Return (event_id, station, barcode) of OK parcels in the gateway store."""
    if not db.exists():
        return []
    con = sqlite3.connect(db, timeout=5)
    try:
        return con.execute(
            "SELECT event_id, station, barcode FROM parcels WHERE outcome = 'OK'"
            " AND instr(barcode, char(29)) = 0"  # a GS1 code shows GS as a visible symbol
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Child processes of one test, stopped at teardown."""
    p = Procs(tmp_path / "logs")
    yield p
    p.stop_all()


def test_parcel_flows_from_simulated_station_to_status_page(
    tmp_path: Path, mosquitto: Mosquitto, procs: Procs
) -> None:
    http = free_port()
    cfg = str(site_toml(tmp_path, mosquitto.url, http))
    procs.start("gateway", "gateway", "run", "-c", cfg, "--ui")
    procs.start(
        "sim", "sim", "station", "--protocol", "mt-sics",
        "--scale-link", str(tmp_path / "dock01-scale"),
        "--scanner-link", str(tmp_path / "dock01-scanner"), "--interval", "0.5-1",
    )  # fmt: skip
    procs.start("edge", "edge", "run", "-c", cfg, "--station", "dock01")
    try:
        rows = wait_for(lambda: ok_rows(tmp_path / "gateway.db"), 40, 0.2, "an OK parcel row")
        wait_port(http, 60)
    except TimeoutError:
        pytest.fail(procs.dump())
    event_id, station, barcode = rows[0]
    assert station == "dock01"

    parcels = get_json(f"http://127.0.0.1:{http}/api/parcels")
    items = parcels["items"] if isinstance(parcels, dict) else parcels
    assert event_id in {p["event_id"] for p in items}
    stations = get_json(f"http://127.0.0.1:{http}/api/stations")
    assert [(s["id"], s["state"]) for s in stations] == [("dock01", "online")]
    page = get_text(f"http://127.0.0.1:{http}/")
    assert "dock01" in page

    def page_shows_parcel() -> bool:
        return barcode in get_text(f"http://127.0.0.1:{http}/parcels?barcode={quote(barcode)}")

    wait_for(page_shows_parcel, 10, 0.5, "the parcel on the parcels page")


def test_demo_runs_three_stations_and_stops_cleanly(tmp_path: Path) -> None:
    broker_port, http = free_port(), free_port()
    cfg = tmp_path / "demo.toml"
    cfg.write_text(f'[site]\nid = "LGG"\n[broker]\nurl = "mqtt://127.0.0.1:{broker_port}"\n')
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    demo = subprocess.Popen(
        [sys.executable, "-m", "dockscan", "demo", "-c", str(cfg), "--http",
         f"127.0.0.1:{http}", "--workdir", str(tmp_path / "work")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:

        def three_online() -> list:
            try:
                stations = get_json(f"http://127.0.0.1:{http}/api/stations")
            except OSError:
                return []
            return [s for s in stations if s["state"] == "online"]

        def parcel_count() -> int:
            con = sqlite3.connect(tmp_path / "work" / "gateway.db", timeout=5)
            try:
                return con.execute("SELECT count(*) FROM parcels").fetchone()[0]
            finally:
                con.close()

        def rows(sql: str) -> list[tuple]:
            con = sqlite3.connect(tmp_path / "work" / "gateway.db", timeout=5)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()

        try:
            online = wait_for(lambda: len(three_online()) == 3 and three_online(), 60, 0.5, "3")
            first = wait_for(parcel_count, 30, 0.5, "parcels")
            wait_for(lambda: parcel_count() > first, 30, 0.5, "the parcel count to grow")
            matched = "SELECT count(*) FROM verdicts WHERE match = 'MATCHED'"
            wait_for(lambda: rows(matched)[0][0], 30, 0.5, "a parcel matched on the demo flight")
            pictured = ("SELECT p.event_id, min(e.received_ms) - p.received_ms FROM parcels p"
                        " JOIN evidence e ON e.event_id = p.event_id WHERE p.station = 'dock03'"
                        " AND p.outcome = 'NO_READ' GROUP BY p.event_id")  # fmt: skip
            unread = wait_for(lambda: rows(pictured), 30, 0.5, "a camera no-read with its picture")
        except TimeoutError:
            pytest.fail((tmp_path / "demo.log").read_text())
        assert sorted(s["id"] for s in online) == ["dock01", "dock02", "dock03"]
        day = rows("SELECT date('now')")[0][0]
        flight = rows("SELECT m.id, count(*) FROM manifests m JOIN manifest_lines l"
                      " ON l.manifest_id = m.id GROUP BY m.id")  # fmt: skip
        assert flight == [(f"flight:DS642/{day}", 116)]
        assert (tmp_path / "work" / "manifests" / "done" / f"flight_DS642_{day}.csv").exists()
        event_id, late_ms = unread[0]
        assert late_ms < 10_000, "the picture reached the gateway within seconds"
        desk = get_text(f"http://127.0.0.1:{http}/clearing?at={event_id}")
        assert f'data-event-id="{event_id}"' in desk and f"/evidence/{event_id}/0.jpg" in desk
    finally:
        demo.send_signal(signal.SIGINT)
        rc = demo.wait(60)
        log.close()
    out = (tmp_path / "demo.log").read_text()
    assert rc == 0, out
    assert "Stopped." in out
    assert f"http://127.0.0.1:{http}/clearing (log in with the operator token" in out
    assert "exited with" not in out, out
