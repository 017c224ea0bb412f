"""The supervisor's board over the real chain: a killed agent turns its station offline live."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import artifact
from tests.support.broker import Mosquitto
from tests.support.chain import Chain

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def page(chromium_browser: Browser) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


def test_killed_agent_turns_offline_on_the_board(
    tmp_path: Path, mosquitto: Mosquitto, page: Page
) -> None:
    chain = Chain(tmp_path, mosquitto, stations=2, keepalive=3)
    try:
        chain.start_gateway("--ui")
        for sid in chain.ids:
            chain.start_edge(sid, count=50, rate=5)
        chain.wait_ui()
        page.goto(f"http://127.0.0.1:{chain.http}/")
        for sid in chain.ids:
            row = page.locator(f'tr[data-station="{sid}"]')
            expect(row).to_have_attribute("data-state", "online", timeout=20_000)
        page.evaluate("window.__sameDocument = true")

        chain.procs.kill("edge-st02")
        dead = page.locator('tr[data-station="st02"]')
        expect(dead).to_have_attribute("data-state", "offline", timeout=15_000)
        expect(dead.locator(".badge")).to_have_text("OFFLINE")
        live = page.locator('tr[data-station="st01"]')
        expect(live).to_have_attribute("data-state", "online")
        assert page.evaluate("window.__sameDocument") is True, "updated live, not reloaded"
        page.screenshot(path=artifact("board_e2e_offline.png"), full_page=True)
    finally:
        chain.close()
