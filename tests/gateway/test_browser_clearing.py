"""The clearing desk in a real chromium, driven from the keyboard only, as a clerk works.

Log in with a name, walk the queue with the arrow keys, key a wrong code (the reason shows, the
parcel stays), key it right and press Enter (the next parcel comes up), type a GS1 separator as a
wedge sends it (Ctrl+]), mark one relabelled with Alt+R; the picture is shown and hostile codes
stay text.
"""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dockscan.codes import GS
from tests.browser import artifact
from tests.gateway.clearing_seed import OPERATOR, SCRIPT, s10, seed
from tests.gateway.conftest import serving
from tests.support.chain import read_sql

pytestmark = pytest.mark.browser


def at(page: Page, event_id: str) -> None:
    """Wait until the page shows this parcel in focus and its keys work."""
    expect(page.locator("#current")).to_have_attribute("data-event-id", event_id)
    expect(page.locator("body")).to_have_attribute("data-keys", "ready")


def test_a_clerk_clears_the_queue_without_the_mouse(page: Page, tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    site = seed(str(db), tmp_path)
    ids = site.ids
    with serving(site.cfg, {"OPERATOR_TOKEN": OPERATOR}) as live:
        page.goto(live.url + "/login?next=/clearing")
        page.fill('input[name="token"]', OPERATOR)
        page.fill('input[name="name"]', "Ann Clerk")
        page.keyboard.press("Enter")
        at(page, ids["no_read"])
        expect(page.locator("#code")).to_be_focused()
        image = page.locator("#evidence img")
        expect(image).to_have_count(1)
        page.wait_for_function("img => img.complete && img.naturalWidth === 64",
                               arg=image.element_handle(), timeout=10_000)  # fmt: skip
        expect(page.locator("#evidence .image-missing")).to_have_count(1)
        page.screenshot(path=artifact("clearing.png"), full_page=True)

        page.keyboard.press("ArrowDown")
        at(page, ids["multi"])
        page.keyboard.press("ArrowDown")
        at(page, ids["invalid"])
        expect(page.locator("#current code")).to_have_text(SCRIPT)  # text, not markup
        page.keyboard.press("PageUp")
        at(page, ids["multi"])
        page.keyboard.press("ArrowUp")
        at(page, ids["no_read"])

        wrong = s10(1)[:-3] + "0CN"
        page.keyboard.type(wrong)
        page.keyboard.press("Enter")
        expect(page.locator("#clear-error")).to_contain_text("check failed")
        at(page, ids["no_read"])
        expect(page.locator("#code")).to_be_focused()
        page.keyboard.type(s10(1))
        page.keyboard.press("Enter")
        at(page, ids["multi"])
        expect(page.locator("#code")).to_be_focused()

        page.keyboard.type("0034012345000000001")  # an SSCC without its check digit yet...
        page.keyboard.press("Control+]")  # ...and a wedge's GS, kept as the token
        expect(page.locator("#code")).to_have_value("0034012345000000001<GS>")
        page.keyboard.press("Escape")
        expect(page.locator("#code")).to_have_value("")
        page.keyboard.type("00340123450000000017")
        page.keyboard.press("Control+]")
        page.keyboard.type("4200123")
        page.keyboard.press("Enter")
        at(page, ids["invalid"])

        page.keyboard.press("Alt+r")
        at(page, ids["recent"])
        expect(page.locator("#queue tbody tr")).to_have_count(1)
        assert page.dialogs == []  # type: ignore[attr-defined]
    done = read_sql(db, "SELECT event_id, action, code, tracking_id, actor FROM corrections"
                    " ORDER BY id")  # fmt: skip
    assert done == [
        (ids["no_read"], "keyed", s10(1), s10(1), "Ann Clerk"),
        (ids["multi"], "keyed", f"00340123450000000017{GS}4200123", "340123450000000017",
         "Ann Clerk"),
        (ids["invalid"], "relabelled", None, None, "Ann Clerk"),
    ]  # fmt: skip
