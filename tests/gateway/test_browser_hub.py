"""The hub pages in a real chromium over a SQLite store seeded by the import and reconciliation.

Every page loads, hostile manifest text is shown as text (no dialog, no injected element), and an
operator sets a hold through the form and sees it listed.
"""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import artifact
from tests.gateway.conftest import serving
from tests.gateway.test_web_hub import FLIGHT, FORMULA, MANIFEST, OPERATOR, SCRIPT, s10, seed_hub

pytestmark = pytest.mark.browser


def test_hub_pages_in_chromium(page: Page, tmp_path: Path) -> None:
    hub = seed_hub(str(tmp_path / "gw.db"), tmp_path)
    with serving(hub.cfg, {"OPERATOR_TOKEN": OPERATOR}) as live:
        page.goto(live.url + "/")
        expect(page.locator(f'table.board-manifests progress[data-manifest="{MANIFEST}"]'))\
            .to_have_attribute("value", "4")  # fmt: skip
        expect(page.locator('tr[data-station="st1"] td.holds-seen')).to_have_text("1")

        page.click("header nav >> text=Manifests")
        expect(page.locator("table.manifests.open progress")).to_have_count(2)
        page.click(f"table.manifests.open >> text={FLIGHT}")  # a slash in the id
        expect(page.locator("table.lines tbody tr")).to_have_attribute("class", "missing")
        page.go_back()
        expect(page.locator(f'progress[data-manifest="{MANIFEST}"]')).to_have_attribute("max", "5")
        page.click(f"table.manifests.open >> text={MANIFEST}")
        lines = page.locator("table.lines")
        expect(lines.locator(f'tr[data-tracking="{s10(1)}"] td.description')).to_have_text(SCRIPT)
        expect(lines.locator(f'tr[data-tracking="{s10(2)}"] td.description')).to_have_text(FORMULA)
        assert page.locator("main script, main b, main a[href^='http']").count() == 0
        page.screenshot(path=artifact("manifest.png"), full_page=True)
        page.click('a[data-filter="over"]')
        expect(lines.locator("tbody tr")).to_have_count(1)
        expect(lines.locator("tbody tr")).to_have_attribute("data-tracking", s10(2))
        page.click("#report-link")
        expect(page.locator('td[data-count="missing"]')).to_have_text("1")
        expect(page.locator("table#missing td.description")).to_have_text("<b>never</b> arrives")

        page.click("header nav >> text=Discrepancies")
        expect(page.locator("table.queue tbody tr")).to_have_count(4)
        page.click(f'tr[data-event="{hub.ids["over"]}"] td >> nth=0 >> a')
        expect(page.locator("#verdict")).to_contain_text("WEIGHT OVER")
        expect(page.locator("#manifest-lines td.description")).to_have_text(FORMULA)

        page.goto(live.url + "/login?next=/holds")
        page.fill('input[name="token"]', OPERATOR)
        page.click('form.login button[type="submit"]')
        page.fill('#hold-form input[name="tracking_id"]', s10(3))
        page.select_option('#hold-form select[name="reason"]', "inspection")
        page.fill('#hold-form input[name="note"]', SCRIPT)
        page.click('#hold-form button[type="submit"]')
        held = page.locator(f'table.holds tr[data-tracking="{s10(3)}"]')
        expect(held).to_contain_text("inspection")
        expect(held.locator("td").nth(2)).to_have_text(SCRIPT)
        page.click(f'table.holds tr[data-tracking="{s10(2)}"] button')
        expect(page.locator(f'table.holds tr[data-tracking="{s10(2)}"]')).to_have_count(0)
        expect(page.locator('table.hold-history tr[data-action="release"]')).to_have_count(1)
        page.screenshot(path=artifact("holds.png"), full_page=True)
        assert page.locator("main script, main b").count() == 0
    assert page.dialogs == []  # type: ignore[attr-defined]
