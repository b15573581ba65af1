"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the file parses,
services exist, EXCHANGE_* variables are settings fields, ports match the settings' defaults
and Prometheus' targets, project services run real ``exchange`` commands of the one image."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_compose_rules import ROOT, load_yaml, planned

from exchange.cli import COMMANDS
from exchange.settings import Settings

pytestmark = pytest.mark.unit

COMPOSE = ROOT / "docker-compose.yml"
PROJECT = {"worker": "worker", "desk": "desk", "lag": "lag", "simulator": "simulate"}
INFRA = {"kafka", "postgres", "prometheus", "grafana"}


def services() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE)["services"])


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def defaults() -> dict[str, Any]:
    """Default of every setting: real fields first, then documented planned ones."""
    out = {name: p.get("default") for name, p in planned()["settings"].items()}
    out.update({name: f.default for name, f in Settings.model_fields.items()})
    return out


def test_every_service_exists() -> None:
    assert set(PROJECT) | INFRA <= set(services())


def test_services_named_in_the_readme_exist() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    named = set(re.findall(r"docker compose (?:up|logs|restart|stop)(?: -d)? ([a-z][\w-]*)",
                           readme))
    assert named <= set(services())


def test_kafka_is_the_official_image_in_kraft_mode() -> None:
    kafka = services()["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = env_of(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in " ".join(env).upper()


@pytest.mark.parametrize(("service", "command"), sorted(PROJECT.items()))
def test_project_services_run_exchange_commands_of_the_one_image(
    service: str, command: str
) -> None:
    svc = services()[service]
    assert svc["build"] == "." and svc["image"] == "one-window-exchange:latest"
    assert svc["command"][0] == command
    assert command in COMMANDS or command in planned().get("commands", {})
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert 'ENTRYPOINT ["exchange"]' in dockerfile


@pytest.mark.parametrize("service", sorted(PROJECT))
def test_exchange_variables_are_settings_fields(service: str) -> None:
    fields = defaults()
    env = env_of(services()[service])
    assert env["EXCHANGE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    for var in env:
        assert var.startswith("EXCHANGE_"), var
        assert var.removeprefix("EXCHANGE_").lower() in fields, f"{service}: {var} is no setting"


def test_settings_read_the_compose_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lag service's variables really configure the settings object (types included)."""
    for var, value in env_of(services()["lag"]).items():
        if var.removeprefix("EXCHANGE_").lower() in Settings.model_fields:
            monkeypatch.setenv(var, value)
    s = Settings()
    assert s.kafka_bootstrap == "kafka:9092" and s.lag_metrics_addr == "0.0.0.0"


@pytest.mark.parametrize("service", ["worker", "desk", "lag"])
def test_metrics_ports_match_settings_and_prometheus(service: str) -> None:
    setting = f"{service}_metrics_port"
    port = int(env_of(services()[service])[f"EXCHANGE_{setting.upper()}"])
    assert port == defaults()[setting]
    prom = load_yaml(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    assert f"{service}:{port}" in targets


def test_prometheus_targets_are_services() -> None:
    prom = load_yaml(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    for job in prom["scrape_configs"]:
        for sc in job["static_configs"]:
            for target in sc["targets"]:
                assert target.split(":")[0] in services(), target


def test_prometheus_loads_the_rules_it_is_given() -> None:
    prom = load_yaml(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    mounts = services()["prometheus"]["volumes"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in mounts
    for rule_file in prom["rule_files"]:
        local = ROOT / "deploy" / "prometheus" / rule_file.removeprefix("/etc/prometheus/")
        assert local.is_file(), rule_file


def test_grafana_provisions_the_dashboards() -> None:
    mounts = services()["grafana"]["volumes"]
    provider = load_yaml(ROOT / "deploy/grafana/provisioning/dashboards/exchange.yml")
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
    datasource = load_yaml(ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml")
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_published_ports_are_distinct() -> None:
    published = [p.split(":")[0] for s in services().values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))
