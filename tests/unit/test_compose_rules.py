"""Alert rules and dashboards name only metrics the code exports (or documented planned ones).

The helpers here (code scan, PromQL name extraction, planned names) are shared with
``test_compose.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("exchange", "producers", "consumers")
# Counter("name", ...), Gauge(\n "name", ...), Histogram(name="name", ...)
METRIC_DEF = re.compile(r"\b(Counter|Gauge|Histogram|Summary|Info|Enum)\(\s*(?:name=)?[\"']"
                        r"([a-zA-Z_:][a-zA-Z0-9_:]*)[\"']")
SUFFIXES = ("_bucket", "_count", "_sum", "_created")
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan", "le",
}
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def planned() -> dict[str, Any]:
    return dict(load_yaml(ROOT / "deploy" / "prometheus" / "planned.yml"))


def exported_metrics() -> set[str]:
    """Every metric name defined in the project's code (by scanning the sources)."""
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            for m in METRIC_DEF.finditer(path.read_text("utf-8")):
                kind, name = m.group(1), m.group(2)
                # prometheus_client exports a counter declared as "x" under "x_total".
                if kind == "Counter" and not name.endswith("_total"):
                    name += "_total"
                names.add(name)
    return names


def referenced_metrics(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (label matchers, ranges, strings stripped)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        if m.group(2) or m.group(1).lower() in PROMQL_WORDS:
            continue  # a function call or a keyword
        names.add(m.group(1))
    return names


def base_name(name: str) -> str:
    """The family name of a histogram/summary series (``x_bucket`` -> ``x``)."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def known_metric(name: str, exported: set[str], planned_names: set[str]) -> bool:
    return (name in PROMETHEUS_OWN or name in exported or base_name(name) in exported
            or name in planned_names or base_name(name) in planned_names)

pytestmark = pytest.mark.unit

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))


def rules() -> list[dict[str, object]]:
    return [r for g in load_yaml(ALERTS)["groups"] for r in g["rules"]]


def dashboard_exprs(path: Path) -> list[str]:
    board = json.loads(path.read_text("utf-8"))
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("max by (group) (kafka_consumergroup_lag_seconds) > 300",
         {"kafka_consumergroup_lag_seconds"}),
        ('x_total{status=~"STALL|STOP"} == 1 or up{job="lag"} == 0', {"x_total", "up"}),
        ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))", {"h_bucket"}),
        ("a / ignoring(reason) b offset 5m", {"a", "b"}),
    ],
)
def test_reference_extraction(expr: str, names: set[str]) -> None:
    assert referenced_metrics(expr) == names


def test_the_code_scan_finds_the_exporters_metrics() -> None:
    exported = exported_metrics()
    assert {"kafka_consumergroup_lag", "kafka_consumergroup_lag_seconds",
            "exchange_lag_group_status", "exchange_dead_letters_total"} <= exported


def test_planned_metrics_are_not_yet_exported() -> None:
    """A planned entry the code now exports must leave planned.yml (keeps the list honest)."""
    assert not set(planned()["metrics"]) & exported_metrics()


def test_every_alert_is_complete() -> None:
    names = [r["alert"] for r in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in {"warning", "critical"}  # type: ignore[index]


@pytest.mark.parametrize("rule", rules(), ids=lambda r: str(r["alert"]))
def test_alert_references_known_metrics(rule: dict[str, object]) -> None:
    exported, planned_names = exported_metrics(), set(planned()["metrics"])
    referenced = referenced_metrics(str(rule["expr"]))
    assert referenced, rule
    unknown = {n for n in referenced if not known_metric(n, exported, planned_names)}
    assert not unknown, f"{rule['alert']}: unknown metrics {unknown}"


def test_required_alerts_exist() -> None:
    exprs = " ".join(str(r["expr"]) for r in rules())
    for metric in ("kafka_consumergroup_lag_seconds", "exchange_lag_group_status",
                   "exchange_dead_letters_total", "exchange_probe_round_trip_seconds_bucket",
                   "exchange_desk_cases_near_deadline"):
        assert metric in exprs


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_references_known_metrics(path: Path) -> None:
    exported, planned_names = exported_metrics(), set(planned()["metrics"])
    exprs = dashboard_exprs(path)
    assert exprs
    for expr in exprs:
        unknown = {n for n in referenced_metrics(expr)
                   if not known_metric(n, exported, planned_names)}
        assert not unknown, f"{path.name}: {expr}: unknown metrics {unknown}"


def test_both_dashboards_exist_with_unique_uids() -> None:
    boards = {p.name: json.loads(p.read_text("utf-8")) for p in DASHBOARDS}
    assert {"bus.json", "desks.json"} <= set(boards)
    assert len({b["uid"] for b in boards.values()}) == len(boards)
