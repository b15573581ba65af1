"""One frozen settings object, read from environment variables prefixed ``EXCHANGE_``.

Every field is documented; secrets are ``SecretStr`` and never logged. Nothing here does I/O
at import time: call :func:`load_settings` where the settings are needed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Settings of every process on the bus (publishers, worker, desks, exporter)."""

    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", frozen=True, extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT or SASL_PLAINTEXT (secured mode)."
    )
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", description="SASL mechanism when secured.")
    kafka_username: str | None = Field(None, description="SASL principal of this process.")
    kafka_password: SecretStr | None = Field(None, description="SASL password of this process.")
    topic_partitions: int = Field(4, description="Partitions of every topic the bus creates.")
    topic_replication: int = Field(1, description="Replication factor of topics the bus creates.")
    schemas_dir: Path = Field(
        REPO_ROOT / "schemas", description="Folder of the Avro schemas (source of truth)."
    )
    max_event_bytes: int = Field(
        512 * 1024, description="Largest encoded department event accepted, in bytes."
    )
    data_dir: Path = Field(
        REPO_ROOT / "var", description="Local state: worker tables, SQLite database, logs."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL of the desk database; empty means SQLite in data_dir."
    )

    worker_app_id: str = Field(
        "one-window-exchange", description="Faust application id (consumer group, table prefix)."
    )
    worker_store: str = Field(
        "", description="Faust table store URL; empty means RocksDB under data_dir/worker."
    )
    worker_batch_size: int = Field(
        500, description="Most messages the worker folds per batch (its record cache)."
    )
    worker_window_messages: int = Field(
        30_000, description="Most messages a window folds while the worker is behind: a "
        "record changed by several of them is encoded, sent and written once (Kafka Streams' "
        "record cache). A caught-up worker commits every batch as it comes."
    )
    worker_window_seconds: float = Field(
        3.0, description="Longest a window stays open while the worker is behind (the most "
        "a backlog delays an output beyond its batch)."
    )
    worker_record_cache: int = Field(
        4096, description="Records per table the worker keeps decoded in memory (most recently "
        "written), so that the next event of a key skips the table's read and decode."
    )
    worker_producer_batch_bytes: int = Field(
        512 * 1024, description="Largest batch the worker's producer sends per partition "
        "(changelog, outputs); must stay below the broker's message.max.bytes."
    )
    worker_session_timeout_seconds: float = Field(
        15.0, description="How long the group waits for a worker that stopped answering "
        "(killed, host lost) before its partitions go to the others; heartbeats are sent "
        "every fifth of it. Faust's default (60 s) is most of the time a replacement takes "
        "after a kill -9."
    )
    worker_stats_interval_seconds: float = Field(
        60.0, description="Seconds between scans of the worker's tables for the record, "
        "conflict and completeness gauges (0: never)."
    )
    metrics_addr: str = Field(
        "127.0.0.1",
        description="Bind address of the worker's and desk's metrics endpoints (0.0.0.0 in "
        "containers).",
    )
    worker_metrics_port: int = Field(
        9101, description="Port of the worker's Prometheus endpoint on 127.0.0.1 (0: none)."
    )

    desk_group: str = Field(
        "exchange-desk", description="Consumer group of the desk consumer (offsets kept in its DB)."
    )
    desk_tick_seconds: float = Field(
        15.0, description="Seconds between two deadline scans of the desk scheduler."
    )
    desk_metrics_port: int = Field(
        9104, description="Port of the desk's Prometheus endpoint on 127.0.0.1 (0: none)."
    )

    probe_interval_seconds: float = Field(
        30.0, description="Seconds between rounds of the end-to-end probe (exchange lag)."
    )
    probe_timeout_seconds: float = Field(
        60.0, description="A probe not echoed within this many seconds counts as lost."
    )
    lag_metrics_port: int = Field(
        9103, description="Port of the lag exporter's Prometheus endpoint (exchange lag)."
    )
    lag_metrics_addr: str = Field(
        "127.0.0.1", description="Address the lag exporter binds (0.0.0.0 inside a container)."
    )
    lag_poll_interval_seconds: float = Field(
        10.0, description="Seconds between two polls of the broker by the lag exporter."
    )
    lag_window_seconds: float = Field(
        300.0, description="Sliding window of the lag exporter's group status rules, seconds."
    )
    lag_table_points: int = Field(
        60, description="End-offset samples kept per partition to interpolate time lag."
    )
    lag_groups: str = Field(
        "", description="Consumer groups the lag exporter watches, comma-separated; empty: all."
    )
    lag_request_timeout_ms: int = Field(
        5000, description="Timeout of each Kafka request of the lag exporter, milliseconds."
    )

    def kafka_client_options(self) -> dict[str, object]:
        """Connection options shared by kafka-python clients (security included)."""
        opts: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            opts["sasl_mechanism"] = self.kafka_sasl_mechanism
            opts["sasl_plain_username"] = self.kafka_username
            opts["sasl_plain_password"] = (
                self.kafka_password.get_secret_value() if self.kafka_password else None
            )
        return opts


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
