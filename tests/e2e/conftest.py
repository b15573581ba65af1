"""The browser of the page tests: Debian's Chromium (``make chromium``), headless, via Playwright.

A missing Chromium fails the test, never skips it: ``make test`` installs it, and a page test
that did not run is no pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from exchange.settings import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"


@pytest.fixture()
def clerk_page() -> Iterator[Page]:
    """A page in a fresh headless Chromium, as clerk ``window-01``, in Chinese, 1200x900."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make chromium`")  # never a skip
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900},
                                          extra_http_headers={"X-Desk-User": "window-01",
                                                              "X-Desk-Role": "clerk"})
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture()
def screenshot() -> Callable[[Page, str], None]:
    """Save a full-page screenshot as ``var/screenshots/<name>.png``."""

    def save(page: Page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save
