"""The hub path over real processes: gateway, edge agent, broker, CLI commands and chromium.

A parcel is stored before any manifest; a manifest imported afterwards re-decides its verdict,
and the new verdict reaches the dock screen through the gateway's outbound queue. A hold set
with the CLI reaches the station; the gateway is then SIGKILLed and the held parcel still turns
the screen red; when the gateway is back the parcel is stored once, with the hold in its verdict.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from dockscan.codes import s10_with_check
from tests.edge.test_verdict_screen import StreamingScale, TcpDevice, parcel
from tests.support.broker import Mosquitto, free_port, wait_for, wait_port
from tests.support.chain import read_sql
from tests.support.procs import Procs, get_json

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
EARLY = s10_with_check("LX", 31_000_001, "CN")  # seen before its manifest came
HELD = s10_with_check("LX", 31_000_002, "CN")


def site_toml(work: Path, broker: Mosquitto, scanner: int, scale: int, screen: int) -> Path:
    """Write a site of one gateway and one station whose devices are TCP sockets."""
    text = (
        f'[site]\nid = "LGG"\n[broker]\nurl = "{broker.url}"\nkeepalive_s = 2\n'
        f'[gateway]\ndatabase = "{work / "gateway.db"}"\nhttp_bind = "127.0.0.1:{free_port()}"\n'
        f"batch_ms = 20\n"
        f'[[stations]]\nid = "dock01"\ndock = "01"\noutbox = "{work / "outbox.db"}"\n'
        f'screen_bind = "127.0.0.1:{screen}"\npairing_window_s = 1.0\nack_timeout_s = 2\n'
        f'[[stations.devices]]\nkind = "scale"\nid = "scale"\nprotocol = "mt-sics"\n'
        f'mode = "stream"\nport = "socket://127.0.0.1:{scale}"\nsettle_ms = 100\n'
        f"division_kg = 0.01\n"
        f'[[stations.devices]]\nkind = "scanner"\nid = "scanner"\n'
        f'port = "socket://127.0.0.1:{scanner}"\n'
    )
    path = work / "site.toml"
    path.write_text(text)
    return path


def dockscan(*args: str) -> str:
    """Run a dockscan command as an operator would; return its output (fail on an error)."""
    done = subprocess.run([sys.executable, "-m", "dockscan", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def page(chromium_browser: Browser) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def test_late_manifest_and_a_hold_through_a_gateway_crash_reach_the_screen(
    tmp_path: Path, mosquitto: Mosquitto, page: Page
) -> None:
    screen_port = free_port()
    scanner, scale = TcpDevice(), StreamingScale()
    config = str(site_toml(tmp_path, mosquitto, scanner.port, scale.port, screen_port))
    db = tmp_path / "gateway.db"
    procs = Procs(tmp_path / "logs")
    url = f"http://127.0.0.1:{screen_port}/"
    connected = "SELECT value FROM counters WHERE name = 'broker_connected'"
    try:
        procs.start("gateway", "gateway", "run", "-c", config)
        wait_for(lambda: db.exists() and read_sql(db, connected) == [(1.0,)], 30, 0.1, "gateway")
        procs.start("edge", "edge", "run", "-c", config, "--station", "dock01")
        wait_port(screen_port, 60)
        page.goto(url)
        expect(page.locator("#link")).to_have_text("broker: online", timeout=10_000)

        parcel(scanner, scale, EARLY, 3.4)  # no manifest yet: nothing to match against
        verdict = page.locator("#verdict")
        expect(verdict).to_contain_text("no manifest open", timeout=10_000)
        manifest = tmp_path / "mawb.csv"
        manifest.write_text(f"tracking_id,declared_kg\n{EARLY},2.0\n{HELD},1.2\n")
        out = dockscan("gateway", "manifest", "import", str(manifest), "-c", config,
                       "--mawb", "176-12345675")  # fmt: skip
        assert "1 verdicts changed" in out, out
        expect(verdict).to_contain_text("WEIGHT OVER +1.4 kg", timeout=10_000)
        expect(verdict).to_have_class("tone-amber")
        row = read_sql(db, "SELECT match, weight, revision FROM verdicts WHERE tracking_id = ?",
                       (EARLY,))  # fmt: skip
        assert row == [("MATCHED", "WEIGHT_OVER", 1)]

        dockscan("gateway", "hold", "set", HELD, "-c", config, "--reason", "customs_referral",
                 "--note", "x-ray <b>lane 3</b>", "--actor", "e2e")  # fmt: skip
        expect(page.locator("#holds")).to_contain_text("holds 1", timeout=10_000)
        procs.kill("gateway")  # SIGKILL: the station has the list, the gateway is gone
        parcel(scanner, scale, HELD, 1.2)
        expect(page.locator("body")).to_have_class("outcome-OK held", timeout=5000)
        expect(page.locator("#hold")).to_contain_text("HELD — CUSTOMS REFERRAL")
        expect(page.locator("#hold")).to_contain_text("x-ray <b>lane 3</b>")  # text, not markup
        state = get_json(url + "state")
        assert "HELD:customs_referral" in state["last"]["flags"]  # type: ignore[index]
        expect(verdict).to_contain_text("verdict pending")

        procs.start("gateway2", "gateway", "run", "-c", config)
        expect(verdict).to_contain_text("MATCHED", timeout=20_000)
        held = "SELECT p.event_id, v.hold FROM parcels p JOIN verdicts v ON v.event_id = p.event_id"
        stored = read_sql(db, held + " WHERE v.tracking_id = ?", (HELD,))
        assert len(stored) == 1 and stored[0][1] == "customs_referral", stored
        assert read_sql(db, "SELECT count(*) FROM parcels") == [(2,)]
        payload = json.loads(read_sql(db, "SELECT payload FROM parcels WHERE event_id = ?",
                                      (stored[0][0],))[0][0])  # fmt: skip
        assert "HELD:customs_referral" in payload["flags"]
    except Exception:
        print(procs.dump())
        raise
    finally:
        procs.stop_all()
        scanner.close()
        scale.close()
