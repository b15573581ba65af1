"""Topic names of the bus and their creation on the broker.

Department topics are derived from the schemas (``dept.<department>.<enterprise|property>``);
the exchange's own topics are listed here once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exchange.errors import ExchangeError
from exchange.kafka_retry import while_unavailable

if TYPE_CHECKING:
    from kafka.admin import NewTopic

    from exchange.schemas import SchemaRegistry
    from exchange.settings import Settings

ENTERPRISE_OUT = "exchange.enterprise.v1"
PROPERTY_OUT = "exchange.property.v1"
DEAD_LETTER = "exchange.deadletter.v1"
OWNER_LINKS = "exchange.internal.owner-links.v1"  # keyed by owner credit code
OWNER_SNAPSHOTS = "exchange.internal.owner-snapshots.v1"  # keyed by unit number
AUDIT = "exchange.audit.v1"
PROBE = "exchange.probe.v1"  # synthetic messages the enterprise agent echoes back
PROBE_REPLIES = "exchange.probe-replies.v1"
RECORD_KINDS = ("enterprise", "property")


def table_name(kind: str) -> str:
    """The worker's Faust table of unified records of ``kind``."""
    return f"{kind}-records"


def changelog_topic(app_id: str, kind: str) -> str:
    """The changelog topic Faust backs the table of ``kind`` with (its own naming rule)."""
    return f"{app_id}-{table_name(kind)}-changelog"


class TopicLayoutError(ExchangeError):
    """Existing topics do not have the layout the bus needs."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic the bus needs, with the configuration it must be created with."""

    name: str
    compacted: bool = False
    retention_ms: int | None = None


def exchange_topics() -> list[TopicSpec]:
    """The exchange's own topics: compacted unified records, dead letters, join repartitions."""
    return [
        TopicSpec(ENTERPRISE_OUT, compacted=True),
        TopicSpec(PROPERTY_OUT, compacted=True),
        TopicSpec(DEAD_LETTER),
        TopicSpec(OWNER_LINKS),
        TopicSpec(OWNER_SNAPSHOTS),
        TopicSpec(AUDIT),
        TopicSpec(PROBE, retention_ms=3_600_000),
        TopicSpec(PROBE_REPLIES, retention_ms=3_600_000),
    ]


#: How long :func:`ensure_topics` keeps trying while the cluster cannot answer (a broker of
#: the bootstrap list down, a controller moving): a worker started during a broker's
#: restart exited with a connection error in the fault suite's mixed scenario.
ENSURE_TIMEOUT_SECONDS = 60.0


def ensure_topics(
    bootstrap_options: dict[str, object],
    specs: Iterable[TopicSpec],
    partitions: int,
    replication: int,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    A connection error or a retriable broker error is tried again with a new admin client
    for up to :data:`ENSURE_TIMEOUT_SECONDS`; after that, and for any other error, it raises.
    """
    specs = list(specs)
    return while_unavailable(
        lambda: _ensure_topics_once(bootstrap_options, specs, partitions, replication),
        ENSURE_TIMEOUT_SECONDS, pause=1.0, what="creating topics")


def new_topic(spec: TopicSpec, partitions: int, replication: int) -> NewTopic:
    """The admin's request to create ``spec`` with the bus's layout and configuration."""
    from kafka.admin import NewTopic

    configs: dict[str, str] = {}
    if spec.compacted:
        configs["cleanup.policy"] = "compact"
    if spec.retention_ms is not None:
        configs["retention.ms"] = str(spec.retention_ms)
    if replication > 1:
        configs["min.insync.replicas"] = str(min(2, replication))
    return NewTopic(spec.name, partitions, replication, topic_configs=configs)


def _ensure_topics_once(
    bootstrap_options: dict[str, object],
    specs: list[TopicSpec],
    partitions: int,
    replication: int,
) -> list[str]:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**bootstrap_options)
    try:
        existing = set(admin.list_topics())
        _check_partitions(admin, [s.name for s in specs if s.name in existing], partitions)
        wanted = [s for s in specs if s.name not in existing]
        new = [new_topic(spec, partitions, replication) for spec in wanted]
        if new:
            # Another process may have created them first: what matters is that they exist.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
        return [s.name for s in wanted]
    finally:
        admin.close()


def _check_partitions(admin: object, names: list[str], partitions: int) -> None:
    """Refuse to run on topics whose partition count breaks the co-partitioning of the join."""
    if not names:
        return
    described = admin.describe_topics(names)  # type: ignore[attr-defined]
    wrong = {t["name"]: len(t["partitions"]) for t in described
             if len(t["partitions"]) != partitions}
    if wrong:
        listing = ", ".join(f"{name} has {n}" for name, n in sorted(wrong.items()))
        raise TopicLayoutError(
            f"topics must have {partitions} partitions (EXCHANGE_TOPIC_PARTITIONS) so that "
            f"department topics and the worker's tables are co-partitioned: {listing}"
        )


def ensure_bus_topics(settings: Settings, registry: SchemaRegistry) -> list[str]:
    """Create every topic of the bus with the partition count the worker's tables expect.

    Department topics and the worker's tables must be co-partitioned, so topics are created
    here explicitly rather than left to the broker's auto-creation with its own default.
    """
    return ensure_topics(
        settings.kafka_client_options(), bus_topic_specs(registry), settings.topic_partitions,
        settings.topic_replication,
    )


def bus_topic_specs(registry: SchemaRegistry) -> list[TopicSpec]:
    """Every topic of the bus: the departments' and the exchange's own."""
    return [TopicSpec(name) for name in registry.topics()] + exchange_topics()


def ensure_worker_topics(settings: Settings, registry: SchemaRegistry) -> list[str]:
    """The bus's topics plus the changelogs of the worker's tables, before the worker starts.

    Left to Faust, a changelog created while the worker's consumer subscribes is seen with
    0 partitions, and the first table write crashes the agent with PartitionsMismatch (seen
    in CI on a fresh app id). Created here, it is in the first metadata the consumer reads.
    """
    created = ensure_bus_topics(settings, registry)
    changelogs = [TopicSpec(changelog_topic(settings.worker_app_id, kind), compacted=True)
                  for kind in RECORD_KINDS]
    return created + ensure_topics(settings.kafka_client_options(), changelogs,
                                   settings.topic_partitions, settings.topic_replication)
