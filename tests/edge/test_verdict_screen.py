"""A real agent process, a real broker and chromium: the verdict and a hold on the dock screen.

The test plays the gateway (it publishes the retained hold list and a verdict batch) and the
devices (a hand scanner and a streaming MT-SICS scale on TCP sockets the agent opens as
`socket://` ports). A held parcel still turns the screen red after the broker is SIGKILLed and
the agent restarted: the list then comes from the station's own file.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from dockscan.errors import ContractError
from dockscan.events import Outcome, ParcelEvent
from dockscan.hub_events import (
    Hold,
    HoldList,
    HoldReason,
    Match,
    Verdict,
    VerdictBatch,
    WeightCheck,
)
from dockscan.ids import utcnow
from dockscan.topics import Topics
from edge.screen import ScreenHub
from edge.verdicts import VerdictInbox, verdict_view
from tests.browser import artifact
from tests.support.broker import Mosquitto, free_port, wait_for, wait_port
from tests.support.mqttc import TestClient
from tests.support.procs import Procs, get_json

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
HELD = "RR123456785CN"
FREE = "RR123456799CN"
HOSTILE_NOTE = "<img src=x id=pwned onerror=alert(1)> ref 7"
# Records every tone step the page plays: (waveform, frequency).
TONE_PROBE = """
window.__tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones.push([this.type, this.frequency.value]);
  return start.apply(this, args);
};
"""


class TcpDevice:
    """A device at the far end of a `socket://` port: accepts the agent, writes what it says."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self.connected = threading.Event()
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            old, self.conn = self.conn, conn
            if old:
                old.close()  # the agent restarted and opened the port again
            self.connected.set()

    def send(self, data: bytes) -> None:
        assert self.connected.wait(10), "the agent never opened the port"
        with contextlib.suppress(OSError):  # the agent went away; it reconnects
            self.conn.sendall(data)  # type: ignore[union-attr]

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        if self.conn:
            self.conn.close()


class StreamingScale(TcpDevice):
    """An MT-SICS scale in SIR mode: a stable reading of the platform load every 50 ms."""

    def __init__(self) -> None:
        super().__init__()
        self.load = 0.0
        threading.Thread(target=self._stream, daemon=True).start()

    def _stream(self) -> None:
        while not self.stop.wait(0.05):
            if self.connected.is_set():
                self.send(f"S S {self.load:10.3f} kg\r\n".encode())


def site_toml(work: Path, broker: Mosquitto, scanner: int, scale: int, screen: int) -> Path:
    text = (
        f'[site]\nid = "LGG"\n[broker]\nurl = "{broker.url}"\nkeepalive_s = 2\n'
        f'[[stations]]\nid = "dock01"\ndock = "01"\noutbox = "{work / "outbox.db"}"\n'
        f'screen_bind = "127.0.0.1:{screen}"\npairing_window_s = 1.0\n'
        f'[[stations.devices]]\nkind = "scale"\nid = "scale"\nprotocol = "mt-sics"\n'
        f'mode = "stream"\nport = "socket://127.0.0.1:{scale}"\nsettle_ms = 100\n'
        f'[[stations.devices]]\nkind = "scanner"\nid = "scanner"\n'
        f'port = "socket://127.0.0.1:{scanner}"\n'
    )
    path = work / "site.toml"
    path.write_text(text)
    return path


@pytest.fixture
def page(chromium_browser: Browser) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(TONE_PROBE)
    yield context.new_page()
    context.close()


def parcel(scanner: TcpDevice, scale: StreamingScale, text: str, kg: float) -> None:
    """Scan a label, put the parcel on the scale, take it off (the scale re-arms at zero)."""
    scanner.send(text.encode() + b"\r")
    scale.load = kg
    time.sleep(0.3)
    scale.load = 0.0
    time.sleep(0.15)


def test_verdict_and_hold_on_the_screen_and_a_hold_without_broker(
    tmp_path: Path, mosquitto: Mosquitto, page: Page
) -> None:
    topics, screen_port = Topics(), free_port()
    scanner, scale = TcpDevice(), StreamingScale()
    config = str(site_toml(tmp_path, mosquitto, scanner.port, scale.port, screen_port))
    gateway = TestClient(mosquitto.port, "gw-test")
    assert gateway.connect()
    hold = Hold(tracking_id=HELD, reason=HoldReason.CUSTOMS_REFERRAL, note=HOSTILE_NOTE,
                since=utcnow())  # fmt: skip
    holds = HoldList(site="LGG", version=4, ts=utcnow(), holds=[hold])
    gateway.publish(topics.hub("LGG", "holds"), holds.to_json(), retain=True)
    procs = Procs(tmp_path / "logs")
    url = f"http://127.0.0.1:{screen_port}/"
    try:
        procs.start("edge", "edge", "run", "-c", config, "--station", "dock01")
        wait_port(screen_port, 20)
        page.goto(url)
        expect(page.locator("#holds")).to_have_text("holds 1 · v4", timeout=10_000)
        expect(page.locator("#link")).to_have_text("broker: online")
        page.click("#sound")  # the AudioContext needs a user gesture

        parcel(scanner, scale, FREE, 3.4)
        expect(page.locator("#outcome")).to_have_text("OK", timeout=5000)
        verdict = page.locator("#verdict")
        expect(verdict).to_have_attribute("data-state", "pending")
        expect(verdict).to_contain_text("verdict pending")
        event_id = get_json(url + "state")["last"]["event_id"]  # type: ignore[index]
        judged = Verdict(event_id=event_id, tracking_id=FREE, ts=utcnow(), match=Match.MATCHED,
                         weight=WeightCheck.WEIGHT_OVER, declared_kg=2.0, measured_kg=3.4,
                         delta_kg=1.4, tolerance_kg=0.35, manifest_id="<b>LGG-CX</b>")  # fmt: skip
        batch = VerdictBatch(site="LGG", station="dock01", gateway="gw-1", ts=utcnow(),
                             verdicts=[judged])  # fmt: skip
        gateway.publish(topics.verdict("LGG", "dock01"), b'{"schema": "dockscan.verdict/9"')
        gateway.publish(topics.verdict("LGG", "dock01"), batch.to_json())
        expect(verdict).to_have_attribute("data-state", "done", timeout=5000)
        expect(verdict).to_have_class("tone-amber")
        expect(verdict).to_contain_text("WEIGHT OVER +1.4 kg")
        expect(verdict).to_contain_text("manifest <b>LGG-CX</b>")  # text, not markup
        page.screenshot(path=artifact("station_verdict_amber.png"))
        expect(page.locator("body")).to_have_class("outcome-OK")
        later = judged.model_copy(update={"hold": HoldReason.INSPECTION, "revision": 1})
        batch = batch.model_copy(update={"verdicts": [later]})
        gateway.publish(topics.verdict("LGG", "dock01"), batch.to_json())  # held at the gateway
        expect(page.locator("body")).to_have_class("outcome-OK held", timeout=5000)
        expect(page.locator("#hold")).to_contain_text("HELD — INSPECTION")

        parcel(scanner, scale, "rr 123 456 785 cn", 1.2)
        expect(page.locator("body")).to_have_class("outcome-OK held", timeout=5000)
        expect(page.locator("#hold")).to_contain_text("HELD — CUSTOMS REFERRAL")
        expect(page.locator("#hold")).to_contain_text(HOSTILE_NOTE)
        assert page.query_selector("#pwned") is None
        tones = page.evaluate("window.__tones")
        assert tones[:2] == [["square", 1320]] * 2, tones  # sound on, then the OK parcel
        siren = [["sawtooth", 1400], ["sawtooth", 700]] * 3
        assert tones[2:] == siren * 2, tones  # the gateway's hold, then the station's own
        assert "HELD:customs_referral" in get_json(url + "state")["last"]["flags"]  # type: ignore[index]

        mosquitto.kill()  # no broker from here on
        procs.kill("edge")
        scanner.connected.clear()
        scale.connected.clear()
        procs.start("edge2", "edge", "run", "-c", config, "--station", "dock01")
        wait_for(lambda: scanner.connected.is_set() and scale.connected.is_set(), 20,
                 what="the restarted agent to open its devices")  # fmt: skip
        page.goto(url)
        expect(page.locator("#holds")).to_have_text("holds 1 · v4", timeout=10_000)
        expect(page.locator("#link")).to_have_text("broker: OFFLINE (events kept)")
        parcel(scanner, scale, HELD, 1.2)
        expect(page.locator("body")).to_have_class("outcome-OK held", timeout=5000)
        expect(page.locator("#hold")).to_contain_text("HELD — CUSTOMS REFERRAL")
        expect(page.locator("#verdict")).to_contain_text("verdict pending — gateway unreachable")
        page.screenshot(path=artifact("station_hold_without_broker.png"))
    except Exception:
        print(procs.dump())
        raise
    finally:
        procs.stop_all()
        gateway.client.loop_stop()
        scanner.close()
        scale.close()


def verdict(match: Match, weight: WeightCheck, delta: float | None = None) -> Verdict:
    return Verdict(event_id="0" * 36, tracking_id=FREE, ts=utcnow(), match=match, weight=weight,
                   delta_kg=delta, revision=1)  # fmt: skip


@pytest.mark.parametrize(
    ("match", "weight", "delta", "tone", "texts"),
    [
        (Match.MATCHED, WeightCheck.WEIGHT_OK, 0.01, "green", ["MATCHED", "weight OK"]),
        (Match.MATCHED, WeightCheck.WEIGHT_UNDER, -0.8, "amber",
         ["WEIGHT UNDER \u22120.8 kg", "MATCHED"]),
        (Match.UNEXPECTED, WeightCheck.NO_DECLARATION, None, "amber", ["UNEXPECTED — set aside"]),
        (Match.DUPLICATE, WeightCheck.WEIGHT_OVER, 0.06, "amber",
         ["DUPLICATE — seen before", "WEIGHT OVER +0.06 kg"]),
        (Match.NO_MANIFEST, WeightCheck.NO_DECLARATION, None, "plain", ["no manifest open"]),
    ],
)  # fmt: skip
def test_verdict_words_and_tones(
    match: Match, weight: WeightCheck, delta: float | None, tone: str, texts: list[str]
) -> None:
    view = verdict_view(verdict(match, weight, delta))
    assert (view["tone"], [line["text"] for line in view["lines"]]) == (tone, texts)


def test_a_verdict_before_its_parcel_is_kept_and_pending_follows_the_link() -> None:
    hub = ScreenHub("dock01", "01")
    inbox = VerdictInbox("LGG", "dock01", hub.verdicts)
    event = ParcelEvent(site="LGG", station="dock01", dock="01", seq=1, event_id="0" * 36,
                        ts=utcnow(), outcome=Outcome.OK, agent_version="t")  # fmt: skip
    hub.captured(event, expect_verdict=True)
    assert hub.snapshot()[1]["last"]["verdict"]["lines"][0]["text"].endswith("unreachable")
    hub.link({"connected": True})
    assert hub.snapshot()[1]["last"]["verdict"]["lines"][0]["text"] == "verdict pending"
    unexpected = verdict(Match.UNEXPECTED, WeightCheck.NO_DECLARATION)
    batch = VerdictBatch(site="LGG", station="dock01", gateway="gw", ts=utcnow(),
                         verdicts=[unexpected])  # fmt: skip
    inbox.receive(batch.to_json())
    hub.captured(event, expect_verdict=True)  # the same event again (re-shown): its verdict
    assert hub.snapshot()[1]["last"]["verdict"]["tone"] == "amber"
    other = batch.model_copy(update={"station": "dock02"})
    with pytest.raises(ContractError):
        inbox.receive(other.to_json())
