"""``exchange demo`` (``make demo``): the whole bus on embedded defaults, on this machine.

A local single-node Kafka (KRaft) under ``var/demo``, SQLite for the desk, and every process
of the bus as a child: the join worker, the desk (consumer, scheduler, web page), the
departments answering applications, the lag exporter with the end-to-end probe. Department
traffic from the simulator is published with a progress bar, a few one-window applications
are submitted at the desk, and the addresses of the page and of every metrics endpoint are
printed. Ctrl-C (or ``--duration``) stops everything and leaves no process behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import FrameType

import click

from exchange.settings import REPO_ROOT

DEMO_DIR = REPO_ROOT / "var" / "demo"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Children:
    """The demo's child processes, stopped together."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        """Start ``exchange ARGS`` with its output in ``logs/NAME.log``."""
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "exchange.cli", *args], env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def dead(self) -> list[str]:
        """Names of children that have exited."""
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every child, wait, SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _wait_http(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise click.ClickException(f"{url} did not answer within {timeout:.0f} s")


def _submit_applications(base: str, count: int) -> list[str]:
    """A few one-window start-up applications at the desk, as a clerk would enter them."""
    import random

    import httpx

    from exchange.identifiers import make_resident_id

    rng = random.Random(2024)
    headers = {"X-Desk-User": "demo-clerk", "X-Desk-Role": "clerk"}
    bundles = [["seal", "tax_and_invoices", "social_security", "housing_fund", "bank_account"],
               ["seal", "tax_and_invoices"], ["social_security", "bank_account"]]
    cases = []
    trades = ["科技", "商贸", "餐饮", "物流"]
    for i in range(count):
        form = {
            "case_type": "startup",
            "pending_name": f"成都一窗示范{trades[i % 4]}有限公司{i + 1}号",
            "legal_representative_name": ["张伟", "王芳", "李娜", "刘洋"][i % 4],
            "legal_representative_id": make_resident_id(rng, "510104", date(1985, 3, 1 + i)),
            "address": f"成都市锦江区春熙路{10 + i}号",
            "bundle": bundles[i % len(bundles)],
        }
        answer = httpx.post(f"{base}/api/v1/cases", json=form, headers=headers, timeout=30)
        if answer.status_code != 201:
            raise click.ClickException(f"the desk refused a demo form: {answer.text}")
        cases.append(answer.json()["case_id"])
    return cases


@click.command("demo")
@click.option("--enterprises", default=300, show_default=True, help="Simulated enterprises.")
@click.option("--properties", default=200, show_default=True, help="Simulated properties.")
@click.option("--applications", default=4, show_default=True,
              help="Start-up applications submitted at the desk.")
@click.option("--duration", type=float, default=None,
              help="Stop after this many seconds (default: run until Ctrl-C).")
def demo_command(enterprises: int, properties: int, applications: int,
                 duration: float | None) -> None:
    """Run the whole bus locally with simulated departments; Ctrl-C stops everything."""
    from rich.console import Console
    from rich.table import Table

    from exchange.localbroker import load_localkafka
    from exchange.schemas import default_registry
    from exchange.settings import load_settings
    from exchange.topics import ensure_bus_topics

    console = Console()
    logs = DEMO_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    kafka = load_localkafka().LocalKafka(DEMO_DIR / "kafka", size=1, port=0)
    console.print("[bold]1/5[/bold] starting the local Kafka broker (KRaft) ...")
    bootstrap = kafka.start(log=lambda m: console.print(f"    {m}"))
    ports = {"web": free_port(), "worker": free_port(), "desk": free_port(), "lag": free_port()}
    env = {**os.environ, "EXCHANGE_KAFKA_BOOTSTRAP": bootstrap,
           "EXCHANGE_DATA_DIR": str(DEMO_DIR), "EXCHANGE_WORKER_METRICS_PORT": str(ports["worker"]),
           "EXCHANGE_DESK_METRICS_PORT": str(ports["desk"]),
           "EXCHANGE_LAG_METRICS_PORT": str(ports["lag"]), "EXCHANGE_PROBE_INTERVAL_SECONDS": "5",
           "EXCHANGE_LAG_POLL_INTERVAL_SECONDS": "5"}
    children = Children(env, logs)
    stop_requested = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        settings = load_settings(kafka_bootstrap=bootstrap, data_dir=DEMO_DIR)
        ensure_bus_topics(settings, default_registry(settings))
        console.print("[bold]2/5[/bold] starting worker, desk, departments, lag exporter ...")
        subprocess.run([sys.executable, "-m", "exchange.cli", "desk", "migrate"], env=env,
                       check=True, capture_output=True)
        children.start("worker", "worker")
        children.start("desk", "desk", "--web", "--port", str(ports["web"]))
        children.start("departments", "departments", "--seed", "7", "--delay", "2",
                       "--jitter", "4", "--late-rate", "0.1", "--late-delay", "90",
                       "--loss-rate", "0.05", "--conflict-rate", "0.15")
        children.start("lag", "lag")
        web = f"http://127.0.0.1:{ports['web']}"
        _wait_http(f"{web}/healthz", 120)
        console.print(f"[bold]3/5[/bold] publishing department traffic ({enterprises} "
                      f"enterprises, {properties} properties) ...")
        subprocess.run([sys.executable, "-m", "exchange.cli", "simulate", "--enterprises",
                        str(enterprises), "--properties", str(properties), "--seed", "1",
                        "--shuffle", "--duplicates", "0.05", "--publish"], env=env, check=True)
        console.print(f"[bold]4/5[/bold] submitting {applications} one-window applications ...")
        cases = _submit_applications(web, applications)
        table = Table(title="The bus is running", show_header=True)
        table.add_column("what")
        table.add_column("where")
        table.add_row("desk window page", f"{web}/window")
        table.add_row("desk queue", f"{web}/queue")
        for case_id in cases:
            table.add_row("demo case", f"{web}/cases/{case_id}")
        table.add_row("desk API (OpenAPI)", f"{web}/docs")
        table.add_row("worker metrics", f"http://127.0.0.1:{ports['worker']}/metrics")
        table.add_row("desk metrics", f"http://127.0.0.1:{ports['desk']}/metrics")
        table.add_row("lag + probe metrics", f"http://127.0.0.1:{ports['lag']}/metrics")
        table.add_row("Kafka bootstrap", bootstrap)
        table.add_row("logs", str(logs))
        console.print(table)
        console.print("[bold]5/5[/bold] running: Ctrl-C stops everything"
                      + (f" (or after {duration:.0f} s)" if duration else ""))
        started = time.monotonic()
        while not stop_requested:
            if duration is not None and time.monotonic() - started > duration:
                break
            dead = children.dead()
            if dead:
                raise click.ClickException(f"{', '.join(dead)} stopped; see {logs}")
            time.sleep(0.5)
    finally:
        console.print("stopping ...")
        children.stop()
        kafka.stop()
        console.print("stopped: no process left behind")
