"""``exchange lag``: serve consumer-group lag, time lag and status to Prometheus until stopped."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import click


@click.command("lag")
@click.option("--port", type=int, default=None,
              help="Metrics port (default: EXCHANGE_LAG_METRICS_PORT, 9103).")
@click.option("--interval", type=float, default=None,
              help="Seconds between polls (default: EXCHANGE_LAG_POLL_INTERVAL_SECONDS).")
@click.option("--window", type=float, default=None,
              help="Status window in seconds (default: EXCHANGE_LAG_WINDOW_SECONDS).")
@click.option("--once", is_flag=True, help="Poll once, print each group's status and exit.")
@click.option("--probe/--no-probe", default=True, show_default=True,
              help="Also send the end-to-end probe through the join worker every "
                   "EXCHANGE_PROBE_INTERVAL_SECONDS.")
def lag_command(port: int | None, interval: float | None, window: float | None,
                once: bool, probe: bool) -> None:
    """Export consumer lag (offsets and seconds) and Burrow-style group status."""
    from prometheus_client import start_http_server

    from consumers.ops.collector import CollectorConfig, LagCollector, describe, parse_groups
    from consumers.ops.metrics import LagMetrics
    from consumers.ops.source import AdminOffsetSource
    from exchange.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its connection chatter is not ours
    settings = load_settings()
    port = settings.lag_metrics_port if port is None else port
    interval = settings.lag_poll_interval_seconds if interval is None else interval
    config = CollectorConfig(
        window_seconds=settings.lag_window_seconds if window is None else window,
        table_capacity=settings.lag_table_points,
        groups=parse_groups(settings.lag_groups),
    )
    options = settings.kafka_client_options()
    collector = LagCollector(
        lambda: AdminOffsetSource(options, settings.lag_request_timeout_ms),
        LagMetrics.create(), config,
    )
    if once:
        for line in describe(collector.poll()):
            click.echo(line)
        collector.close()
        return
    start_http_server(port, addr=settings.lag_metrics_addr)
    click.echo(f"lag exporter: http://{settings.lag_metrics_addr}:{port}/metrics,"
               f" polling {settings.kafka_bootstrap} every {interval:g}s", err=True)
    stop = threading.Event()
    if probe:
        threading.Thread(target=_run_probe, args=(settings, stop), name="probe",
                         daemon=True).start()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop.is_set():
            collector.poll()
            stop.wait(interval)
    finally:
        collector.close()


def _run_probe(settings: object, stop: threading.Event) -> None:
    """Send the end-to-end probe until ``stop`` is set; connection errors are retried."""
    from consumers.ops.probe import Probe, ProbeMetrics
    from exchange.settings import Settings

    assert isinstance(settings, Settings)
    probe = Probe(settings, ProbeMetrics.create(), timeout_s=settings.probe_timeout_seconds)
    try:
        while not stop.is_set():
            try:
                probe.tick()
                deadline = time.monotonic() + settings.probe_interval_seconds
                while not stop.is_set() and time.monotonic() < deadline:
                    probe.collect(timeout_ms=500)
            except Exception as exc:  # noqa: BLE001 - the probe reports, it never stops
                logging.getLogger(__name__).warning("probe round failed: %s", exc)
                probe.close()
                probe = Probe(settings, probe.metrics, timeout_s=settings.probe_timeout_seconds)
                stop.wait(settings.probe_interval_seconds)
    finally:
        probe.close()
