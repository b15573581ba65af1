"""The desk page in real headless Chromium: submit a start-up form at the window, let the
departments answer, watch the case page show the steps completing and the case completed.

Departments answer through :meth:`DeskService.apply_record` (the desk consumer's path), fed
with records folded by the real merge core; the page refreshes itself (meta refresh).
The browser is the ``clerk_page`` fixture of ``conftest.py`` (a missing Chromium fails).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from consumers.desk.service import DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.migrate import upgrade
from consumers.desk.web.server import BackgroundServer, start_in_thread
from exchange.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from departments import REP_ID, growing_records  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

CODE = "91510104MANPWNU0XR"


@pytest.fixture()
def service(tmp_path: Path) -> DeskService:
    url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    upgrade(url)
    return DeskService(make_session_factory(make_engine(url)))


@pytest.fixture()
def server(service: DeskService) -> Iterator[BackgroundServer]:
    running = start_in_thread(service, load_settings(), refresh_seconds=1)
    yield running
    running.stop()


def wait_for(check: object, timeout: float, what: str) -> None:
    """Poll ``check()`` until truthy, failing with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_startup_case_completes_on_the_page(service: DeskService, server: BackgroundServer,
                                            clerk_page: Page,
                                            screenshot: Callable[[Page, str], None]) -> None:
    page = clerk_page
    page.goto(f"{server.base_url}/window")
    # a bad ID first: the error sits beside the field and nothing is saved
    page.fill("#credit_code", CODE)
    page.fill("#legal_representative_name", "张三")
    page.fill("#legal_representative_id", REP_ID[:-1] + "2")
    page.fill("#address", "成都市武侯区一环路1号")
    page.check("input[name=bundle][value=seal]")
    page.check("input[name=bundle][value=tax_and_invoices]")
    page.click("#startup-form button[type=submit]")
    error = page.locator('[data-field="legal_representative_id"]')
    assert "MOD 11-2" in error.inner_text()
    assert REP_ID[:-1] not in page.content()
    assert service.count_open() == 0
    page.fill("#legal_representative_id", REP_ID)  # not echoed back: type it again
    page.click("#startup-form button[type=submit]")
    page.wait_for_url("**/cases/*")
    case_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#case-status").get_attribute("data-status") == "open"
    assert REP_ID not in page.content()  # the clerk sees 510104********1231

    states: list[str] = []
    for offset, record in enumerate(growing_records(CODE)):
        service.apply_record(record, topic="exchange.enterprise.v1", partition=0,
                             offset=offset, group="desk-e2e")
        done = service.case(case_id).summary.steps_done  # type: ignore[union-attr]
        wait_for(lambda d=done: page.locator("#steps-done").inner_text()
                 .startswith(f"{d}/"), 15, f"{done} steps done on the page")
        states.append(page.locator("#steps-done").inner_text())
    wait_for(lambda: page.locator("#case-status").get_attribute("data-status")
             == "completed", 15, "the case completed on the page")
    assert states[-1] == "3/3" and states[0] != "3/3"
    rows = page.locator("#steps tbody tr")
    assert [rows.nth(i).get_attribute("data-state") for i in range(rows.count())] == [
        "completed"] * 3
    assert "market" in page.locator("#steps").inner_text()
    screenshot(page, "desk_case_completed")
    page.click("#record-link")
    page.wait_for_url("**/records/enterprise/*")
    assert "510104********1231" in page.content() and REP_ID not in page.content()
    screenshot(page, "desk_record")
