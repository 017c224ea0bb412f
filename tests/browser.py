"""Launch Debian's chromium through Playwright; never `playwright install` (closed network)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "chromium is not installed: run `apt-get install -y chromium`"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Yield a headless chromium; fail with an install hint when it is missing."""
    if not CHROMIUM.exists():
        raise RuntimeError(INSTALL_HINT)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artifact(name: str) -> Path:
    """Return a path under tests/artifacts/ (gitignored) for a screenshot or download."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
