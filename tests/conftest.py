"""Shared fixtures: a private Mosquitto per test that needs one."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser import chromium
from tests.support.broker import Mosquitto


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh Mosquitto on a free loopback port; killable and restartable."""
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.kill()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """One headless chromium for every browser test of the session (Playwright allows one)."""
    with chromium() as browser:
        yield browser
