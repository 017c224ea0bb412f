"""The clearing desk over real processes: camera station, edge, Mosquitto, gateway, UI, chromium.

A parcel whose label the camera cannot read is weighed; its event and the frames around it reach
the gateway, and it shows up at the clearing desk with its picture within seconds. A clerk keys
its code in chromium; the correction is on the parcel page, in the export and on MQTT (checked
against the published JSON Schema). The gateway is then SIGKILLed and a second parcel corrected
meanwhile: when the gateway is back that correction goes out too, and none is lost or doubled.
"""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from playwright.sync_api import Browser, Page, expect

from dockscan.codes import GS
from firmware_sim.station_sim import SimulatedStation, StationMix, StationTiming
from tests.browser import artifact
from tests.support.broker import Mosquitto, free_port, wait_for, wait_port
from tests.support.chain import Chain, read_sql
from tests.support.mqttc import TestClient
from tests.support.procs import get_text
from tests.support.stations import camera_station

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
REPO = Path(__file__).resolve().parents[1]
TOKEN = "e2e-clearing-operator-token"
UNREAD = "SELECT event_id, received_ms FROM parcels WHERE outcome = 'NO_READ' ORDER BY ts_ms"


@pytest.fixture
def page(chromium_browser: Browser) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def key(page: Page, code: str) -> None:
    """Type a code into the clearing field as a wedge would (GS as the <GS> token), then Enter."""
    page.locator("#code").fill(code.replace(GS, "<GS>"))
    page.keyboard.press("Enter")


def test_an_unread_parcel_is_cleared_at_the_desk_through_a_gateway_crash(
    tmp_path: Path, mosquitto: Mosquitto, page: Page
) -> None:
    camera_port, ui_port = free_port(), free_port()
    extra = 'operator_token_env = "E2E_OPERATOR"\n'
    chain = Chain(tmp_path, mosquitto, extra_station=camera_station(tmp_path, camera_port),
                  gateway_extra=extra)  # fmt: skip
    station = SimulatedStation.on_links(
        tmp_path / "scale", None, camera_port=camera_port, seed=5,
        timing=StationTiming(interval=(4.5, 4.5)),
        mix=StationMix(no_read=1.0, no_weight=0.0, invalid=0.0), count=3,
    )  # fmt: skip
    integrator = TestClient(mosquitto.port, "integrator")
    assert integrator.connect()
    integrator.subscribe("dockscan/v1/LGG/+/correction")
    env = {"E2E_OPERATOR": TOKEN}
    schema = json.loads((REPO / "docs/schema/dockscan.correction-1.json").read_text())
    url = f"http://127.0.0.1:{ui_port}"
    try:
        chain.procs.start("gateway", "gateway", "run", "-c", str(chain.config), env=env)
        chain.wait_gateway()
        chain.procs.start("ui", "gateway", "ui", "-c", str(chain.config), "--bind",
                          f"127.0.0.1:{ui_port}", env=env)  # fmt: skip
        station.start()
        chain.start_edge("st01")
        wait_port(ui_port, 60)  # a loaded CI machine starts Python processes slowly
        try:
            wait_for(lambda: len(read_sql(chain.db, UNREAD)) >= 2, 60, 0.2, "two no-reads")
            first, received = read_sql(chain.db, UNREAD)[0]
            pictures = "SELECT count(*) FROM evidence WHERE event_id = ?"
            wait_for(lambda: read_sql(chain.db, pictures, (first,))[0][0] >= 1, 20, 0.1,
                     "its picture")  # fmt: skip
        except TimeoutError:
            pytest.fail(chain.procs.dump())
        stored = read_sql(chain.db, "SELECT min(received_ms) FROM evidence WHERE event_id = ?",
                          (first,))[0][0]  # fmt: skip
        assert stored - received < 10_000, "the picture came within seconds of its parcel"
        truth = [p.code.text for p in station.truth() if not p.scanned]

        page.goto(url + "/login?next=/clearing")
        page.fill('input[name="token"]', TOKEN)
        page.fill('input[name="name"]', "Desk 1")
        page.keyboard.press("Enter")
        expect(page.locator("#current")).to_have_attribute("data-event-id", first)
        picture = page.locator("#evidence img").first
        expect(picture).to_be_visible()
        loaded = "img => img.complete && img.naturalWidth > 0"
        page.wait_for_function(loaded, arg=picture.element_handle(), timeout=10_000)
        page.screenshot(path=artifact("e2e-clearing.png"), full_page=True)
        key(page, truth[0])
        expect(page.locator("#current")).not_to_have_attribute("data-event-id", first)
        wait_for(lambda: not integrator.messages.empty(), 30, 0.1, "the correction on MQTT")
        messages = [json.loads(m.payload) for m in integrator.received(1.0)]
        assert [m["event_id"] for m in messages] == [first], messages
        jsonschema.validate(messages[0], schema)
        assert messages[0]["code"]["text"] == truth[0] and messages[0]["by"] == "Desk 1"

        page.goto(f"{url}/parcels/{first}")
        expect(page.locator("#corrections")).to_contain_text("Desk 1")
        exported = csv.DictReader(io.StringIO(get_text(f"{url}/corrections.csv")))
        assert [(r["event_id"], r["code"]) for r in exported] == [(first, truth[0])]

        chain.procs.kill("gateway")  # SIGKILL: the UI still stores corrections
        second = read_sql(chain.db, UNREAD)[1][0]
        page.goto(f"{url}/clearing?at={second}")
        key(page, truth[1])
        # the next no-read, or the empty queue when no third one has come yet
        after = page.locator(f'#current:not([data-event-id="{second}"]), #queue-empty')
        expect(after).to_be_visible()
        assert integrator.received(1.0) == [], "nobody publishes while the gateway is down"
        chain.procs.start("gateway2", "gateway", "run", "-c", str(chain.config), env=env)
        wait_for(lambda: not integrator.messages.empty(), 30, 0.2, "the correction after restart")
        late = [json.loads(m.payload) for m in integrator.received(2.0)]
        assert [m["event_id"] for m in late] == [second], late
        jsonschema.validate(late[0], schema)
        corrections = read_sql(chain.db, "SELECT event_id FROM corrections ORDER BY id")
        assert corrections == [(first,), (second,)]
        published = "SELECT count(*) FROM outbound WHERE kind = 'correction' AND published_ms > 0"
        wait_for(lambda: read_sql(chain.db, published) == [(2,)], 10, 0.2, "both marked sent")
    except Exception:
        print(chain.procs.dump())
        raise
    finally:
        integrator.close()
        station.stop()
        chain.close()
