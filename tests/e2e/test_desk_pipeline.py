"""The whole pipeline in real headless Chromium: the window page publishes the one form, the
department systems answer on their topics, the join worker folds the answers, the desk
consumer advances the case, and the case page shows every step and the case completed.

Three real processes (``exchange worker``, ``exchange departments``, ``exchange desk --web``)
on the test broker, a tmp data dir, SQLite and free ports; all stopped at the end. The browser
is the ``clerk_page`` fixture of ``conftest.py`` (a missing Chromium fails).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from consumers.desk.web.server import free_port
from exchange.settings import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

EXCHANGE = Path(sys.executable).with_name("exchange")
REP_ID = "510104199005171231"
BUNDLE = ["seal", "tax_and_invoices", "social_security", "housing_fund", "bank_account"]
COMPLETE_WITHIN = 180.0


class Stack:
    """The processes of the test, with their logs."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen([str(EXCHANGE), *args], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=REPO_ROOT)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                pytest.fail(f"`exchange {name}` exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything, wait, SIGKILL what is left; the exit codes."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                codes[name] = None  # did not stop on SIGTERM
        return codes


@pytest.fixture()
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    run = uuid.uuid4().hex[:8]
    port = free_port()
    env = {**os.environ,
           "EXCHANGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "EXCHANGE_DATA_DIR": str(tmp_path / "data"),
           "EXCHANGE_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.sqlite3'}",
           "EXCHANGE_WORKER_APP_ID": f"e2e-worker-{run}",
           "EXCHANGE_DESK_GROUP": f"e2e-desk-{run}",
           "EXCHANGE_DESK_TICK_SECONDS": "1",
           "EXCHANGE_WORKER_METRICS_PORT": "0",
           "EXCHANGE_DESK_METRICS_PORT": "0"}
    (tmp_path / "data").mkdir()
    procs = Stack(env, tmp_path)
    try:
        procs.start("worker", "worker")
        procs.start("departments", "departments", "--delay", "1", "--seed", "1",
                    "--group", f"e2e-departments-{run}")
        procs.start("desk", "desk", "--web", "--port", str(port), "--refresh-seconds", "1")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            procs.check_alive()
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"desk web not ready within 60 s:\n{procs.tail('desk')}")
            time.sleep(0.2)  # poll interval, bounded by the deadline
        yield procs, base
    finally:
        codes = procs.stop()
        for name, code in codes.items():
            print(f"--- exchange {name} exited {code}\n{procs.tail(name, 15)}")
    assert codes["desk"] == 0 and codes["departments"] == 0, codes  # clean stop on SIGTERM
    for name in procs.procs:  # a resident ID is never logged, whatever the process
        assert REP_ID not in (tmp_path / f"{name}.log").read_text(errors="replace"), name


def test_startup_form_is_answered_by_the_departments_on_the_page(
        stack: tuple[Stack, str], clerk_page: Page,
        screenshot: Callable[[Page, str], None]) -> None:
    # stack before clerk_page: the browser is closed before the processes are stopped
    procs, base = stack
    page = clerk_page
    name = f"成都流水{uuid.uuid4().hex[:6]}科技有限公司"
    page.goto(f"{base}/window")
    page.fill("#pending_name", name)
    page.fill("#legal_representative_name", "张三")
    page.fill("#legal_representative_id", REP_ID)
    page.fill("#address", "四川省成都市武侯区人民南路4段1号")
    for item in BUNDLE:
        page.check(f"input[name=bundle][value={item}]")
    page.click("#startup-form button[type=submit]")
    page.wait_for_url("**/cases/*")
    assert REP_ID not in page.content()

    deadline = time.monotonic() + COMPLETE_WITHIN
    seen: list[str] = []
    while page.locator("#case-status").get_attribute("data-status") != "completed":
        procs.check_alive()
        done = page.locator("#steps-done").inner_text()
        if not seen or seen[-1] != done:
            seen.append(done)
        if time.monotonic() > deadline:
            screenshot(page, "desk_pipeline_timeout")
            pytest.fail(f"case not completed within {COMPLETE_WITHIN} s (steps seen "
                        f"{seen}):\n" + "\n".join(
                            f"--- {n}\n{procs.tail(n)}" for n in procs.procs))
        page.wait_for_timeout(500)  # the page reloads itself every second
    rows = page.locator("#steps tbody tr")
    states = {rows.nth(i).get_attribute("data-step"):
              rows.nth(i).get_attribute("data-state") for i in range(rows.count())}
    assert states == {step: "completed" for step in ["licence", *BUNDLE]}
    steps_text = page.locator("#steps").inner_text()
    for department in ("market", "seal", "tax", "social", "bank"):
        assert department in steps_text
    total = 1 + len(BUNDLE)
    assert page.locator("#steps-done").inner_text() == f"{total}/{total}"
    screenshot(page, "desk_pipeline_completed")
    print(f"steps seen on the page: {seen}")
