"""Shared fixtures: a real Kafka for the integration tests (never a skip when it is missing).

``kafka_bootstrap`` takes, in order: ``EXCHANGE_KAFKA_BOOTSTRAP``; an ``apache/kafka:4.1.1``
container when a Docker engine answers; else the project's own broker
(``deploy/kafka/localkafka.py``) on free ports in a pytest tmp dir. ``kafka_cluster`` starts
three local brokers only for the tests that ask for it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange.localbroker import load_localkafka, started

ROOT = Path(__file__).resolve().parent.parent
KAFKA_IMAGE = "apache/kafka:4.1.1"


localkafka = load_localkafka()  # deploy/kafka/localkafka.py, one module object


def docker_answers(timeout: float = 1.0) -> bool:
    """True if a Docker engine replies to ``/_ping`` within ``timeout`` seconds."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(host.removeprefix("unix://"))
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").partition(":")
            sock = socket.create_connection((name, int(port or 2375)), timeout=timeout)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(256)
    except OSError:
        return False


def _start_container() -> tuple[Any, str]:
    """An apache/kafka KRaft container advertised on a fixed free host port.

    testcontainers' KafkaContainer scripts the Confluent image only, so the official
    image is run as a plain container whose host port equals its container port: the
    advertised listener is then right from the first start.
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = localkafka.free_ports(1)[0]
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://0.0.0.0:{port},CONTROLLER://0.0.0.0:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
    }
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(port, port)
    for key, value in env.items():
        container = container.with_env(key, value)
    container.start()
    try:
        wait_for_logs(container, "Kafka Server started", timeout=120)
    except Exception:
        container.stop()
        raise
    return container, f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a running Kafka for the whole session; errors, never skips."""
    given = os.environ.get("EXCHANGE_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    failures: list[str] = []
    if docker_answers():
        try:
            container, bootstrap = _start_container()
        except Exception as exc:  # fall through to the local broker, keep the reason
            failures.append(f"{KAFKA_IMAGE} container: {exc}")
        else:
            try:
                yield bootstrap
            finally:
                container.stop()
            return
    else:
        failures.append("no Docker engine answered")
    failures.append("local broker (deploy/kafka/localkafka.py)")
    kafka = localkafka.LocalKafka(tmp_path_factory.mktemp("kafka"), size=1, port=0,
                                  die_with_parent=True)
    with started(kafka, "no Kafka for the tests: " + "; ".join(failures)):
        yield kafka.bootstrap


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Three local brokers (RF 3, min.insync.replicas 2); ``.bootstrap``, ``.kill``, ``.restart``.

    Tests that kill a node must restart it before they end: the cluster is shared.
    """
    cluster = localkafka.LocalKafka(tmp_path_factory.mktemp("kafka-cluster"), size=3, port=0,
                                    die_with_parent=True)
    with started(cluster, "three-broker local Kafka did not start", timeout=180):
        yield cluster


# --- Desk databases: PostgreSQL from deploy/postgres/pg.sh, SQLite in tmp dirs ----------------

DESK_TABLES = (
    "desk_audit_log",
    "desk_offsets",
    "desk_records",
    "desk_ratings",
    "desk_notices",
    "desk_timeline",
    "desk_cases",
)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of a PostgreSQL database the tests may wipe.

    ``EXCHANGE_TEST_PG_URL`` if set, else ``deploy/postgres/pg.sh up`` (installs the Debian
    package if needed) with its own database ``exchange_test``. A PostgreSQL that cannot be
    had fails the tests (never a skip).
    """
    import subprocess

    given = os.environ.get("EXCHANGE_TEST_PG_URL")
    if given:
        return given
    try:
        done = subprocess.run(
            [str(ROOT / "deploy/postgres/pg.sh"), "up"],
            env={**os.environ, "EXCHANGE_PG_DB": "exchange_test"},
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        message = f"no PostgreSQL for the tests (deploy/postgres/pg.sh up): {exc} {detail[-2000:]}"
        # Never a skip: `make test` installs PostgreSQL; a persistence test that did not run
        # against it is no pass.
        raise RuntimeError(message) from exc
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def pg_desk_url(pg_url: str) -> str:
    """``pg_url`` wiped once per session and migrated to the desk's head revision."""
    from sqlalchemy import create_engine, text

    from consumers.desk.store.migrate import upgrade

    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(pg_url)
    return pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def desk_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated desk database: SQLite in a tmp dir, then PostgreSQL (truncated)."""
    from consumers.desk.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
        upgrade(url)
        return url
    from sqlalchemy import create_engine, text

    url = str(request.getfixturevalue("pg_desk_url"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(DESK_TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url
