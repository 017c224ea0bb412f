"""End to end with a camera: scale + labelled parcels over MJPEG, edge, Mosquitto, gateway."""

import time
from pathlib import Path

import pytest

from dockscan.config import CameraConfig, load_config, parse_config
from dockscan.demo import demo_site_toml, sim_station_args
from firmware_sim.station_sim import SimulatedStation, StationMix, StationTiming
from tests.support.broker import Mosquitto, free_port, wait_for
from tests.support.chain import Chain, read_sql
from tests.support.stations import camera_station

pytestmark = pytest.mark.e2e


def test_camera_station_delivers_ok_parcels_with_the_simulated_codes(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    port = free_port()
    chain = Chain(tmp_path, mosquitto, extra_station=camera_station(tmp_path, port))
    station = SimulatedStation.on_links(
        tmp_path / "scale",
        None,
        camera_port=port,
        seed=21,
        timing=StationTiming(interval=(1.2, 1.2)),
        mix=StationMix(no_read=0.25, no_weight=0.0, invalid=0.0),
        count=12,
    )
    rows = "SELECT outcome, barcode FROM parcels WHERE station = 'st01'"
    try:
        chain.start_gateway()
        chain.wait_gateway()
        station.start()
        chain.start_edge("st01")
        try:
            wait_for(lambda: read_sql(chain.db, rows), 30, 0.1, "the first parcel")
            ready = time.monotonic()  # the edge reads its devices: later parcels must all arrive
            assert station.done.wait(30)
            expected = [p for p in station.truth() if p.t_start > ready]
            wait_for(lambda: len(read_sql(chain.db, rows)) >= len(station.truth()) - 2,
                     20, 0.2, "the last parcels")  # fmt: skip
            time.sleep(3.5)  # a pairing window for the last one
        except (TimeoutError, AssertionError):
            pytest.fail(chain.procs.dump())
    finally:
        station.stop()
        chain.close()
    truth = station.truth()
    stored = read_sql(chain.db, rows)
    ok = [barcode for outcome, barcode in stored if outcome == "OK"]
    readable = {p.code.text for p in truth if p.scanned}
    later_readable = {p.code.text for p in expected if p.scanned}
    assert len(expected) >= 6 and later_readable and any(not p.scanned for p in expected), truth
    assert set(ok) <= readable, "every OK barcode is a simulated code (no misread)"
    assert later_readable <= set(ok), (later_readable - set(ok), stored)
    assert len(ok) == len(set(ok)), "one OK event per parcel"
    no_reads = [b for outcome, b in stored if outcome == "NO_READ"]
    assert len(no_reads) >= sum(not p.scanned for p in expected) and not any(no_reads)
    assert not {b for _, b in stored} & {p.code.text for p in truth if not p.scanned}


@pytest.mark.parametrize(("stations", "camera_port"), [(3, 18013), (13, 18016)])
def test_demo_site_gives_dock03_a_camera_on_its_sims_stream(
    tmp_path: Path, stations: int, camera_port: int
) -> None:
    base = parse_config({"site": {"id": "LGG"}})
    path = tmp_path / "site.toml"
    path.write_text(demo_site_toml(base, base.broker, stations, "127.0.0.1:18000", tmp_path))
    site = load_config(path)
    kinds = {st.id: [d.kind for d in st.devices] for st in site.stations}
    assert kinds.pop("dock03") == ["scale", "camera"]
    assert set(map(tuple, kinds.values())) == {("scale", "scanner")}
    camera = site.stations[2].devices[1]
    assert isinstance(camera, CameraConfig)
    assert camera.source == f"http://127.0.0.1:{camera_port}/stream.mjpg"
    assert (camera.downscale, camera.symbologies) == (0.5, ["code128", "gs1-128"])
    screens = {int(st.screen_bind.rsplit(":", 1)[1]) for st in site.stations}
    assert camera_port not in screens and 18000 not in screens
    args = sim_station_args(site.stations[2])
    assert args[args.index("--camera-http") + 1] == str(camera_port) and "--no-scanner" in args
    assert "--scanner-link" in sim_station_args(site.stations[0])
