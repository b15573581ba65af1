"""Who may do what on the secured broker: the principals of the bus and their rights.

The table is derived, not hand-listed: departments and their topics come from the schema
registry (``dept.<department>.<kind>``), the exchange's own topics from :mod:`exchange.topics`,
group and application ids from the settings. :mod:`deploy.kafka.secure` turns it into SCRAM
users and broker ACLs; nothing here talks to Kafka.

Rules (all grants are ALLOW; anything not granted is refused, ``allow.everyone.if.no.acl.found``
is false):

- a department writes (and describes) only topics prefixed ``dept.<its department>.``;
- the exchange worker reads every department topic, reads and writes ``exchange.*``, owns its
  Faust topics (changelogs, leader topic: prefixed by its application id), its consumer group
  and transactional ids;
- a desk reads only the unified topics and its own group, writes its own topics (the
  schemas' department ``desk``, its one-form applications, if there is one) and appends to
  the audit topic (``exchange show`` records every read);
- the lag exporter describes every topic and group (offsets, never payloads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from exchange.topics import AUDIT, ENTERPRISE_OUT, PROPERTY_OUT

if TYPE_CHECKING:
    from exchange.schemas import SchemaRegistry
    from exchange.settings import Settings

Resource = Literal["topic", "group", "transactional_id", "cluster"]
Pattern = Literal["literal", "prefixed"]
Role = Literal["department", "worker", "desk", "exporter"]

#: The broker's own principal: inter-broker and controller traffic, topic and ACL admin.
ADMIN = "admin"
WORKER = "exchange"
DESK = "desk"
EXPORTER = "lag-exporter"
#: Literal resource name that the broker reads as "every resource of this type".
WILDCARD = "*"
CLUSTER = "kafka-cluster"  # the only name a cluster resource has
EXCHANGE_PREFIX = "exchange."
UNIFIED_TOPICS = (ENTERPRISE_OUT, PROPERTY_OUT)


@dataclass(frozen=True)
class Grant:
    """Operations allowed on one resource pattern (operation names as the broker spells them)."""

    resource: Resource
    name: str
    pattern: Pattern
    operations: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    """A SASL user of the bus with its role and grants."""

    name: str
    role: Role
    grants: tuple[Grant, ...]

    @property
    def kafka_principal(self) -> str:
        """The principal as ACLs name it, ``User:<name>``."""
        return f"User:{self.name}"


def department_prefix(department: str) -> str:
    """Topic prefix owned by a department: ``dept.<department>.``."""
    return f"dept.{department}."


def department_topics(registry: SchemaRegistry) -> dict[str, list[str]]:
    """Each department's topics, checked to carry the department's own prefix."""
    by_department: dict[str, list[str]] = {d: [] for d in registry.departments()}
    for event_type in registry.event_types():
        info = registry.event(event_type)
        if not info.topic.startswith(department_prefix(info.department)):
            raise ValueError(
                f"topic {info.topic!r} of {event_type} lacks the prefix "
                f"{department_prefix(info.department)!r}: the department's ACL would not cover it"
            )
        if info.topic not in by_department[info.department]:
            by_department[info.department].append(info.topic)
    return {d: sorted(topics) for d, topics in by_department.items()}


def _department_grant(department: str) -> Grant:
    return Grant("topic", department_prefix(department), "prefixed", ("WRITE", "DESCRIBE"))


def _worker(registry: SchemaRegistry, app_id: str) -> Principal:
    reads = tuple(Grant("topic", t, "literal", ("READ", "DESCRIBE")) for t in registry.topics())
    return Principal(WORKER, "worker", (
        *reads,
        Grant("topic", EXCHANGE_PREFIX, "prefixed", ("READ", "WRITE", "DESCRIBE")),
        # Faust's own topics (changelogs, the assignor's leader topic) are named
        # "<app id>-...": the worker creates them (``exchange worker`` pre-creates the
        # changelogs, Faust the rest), with their configs in the create request. Nothing
        # more: no DELETE, ALTER or ALTER_CONFIGS, which ALL would also give.
        Grant("topic", app_id, "prefixed", ("CREATE", "READ", "WRITE", "DESCRIBE")),
        Grant("group", app_id, "prefixed", ("READ", "DESCRIBE")),
        Grant("transactional_id", app_id, "prefixed", ("WRITE", "DESCRIBE")),
    ))


def _desk(desk_group: str, departments: Iterable[str]) -> Principal:
    # The desk publishes its one-form applications as the department "desk" when the schemas
    # have one (dept.desk.*): those are its own topics, written under the same principal.
    # It also reads its own applications back (each case's timeline records that its
    # application reached the bus).
    own = ((_department_grant(DESK),
            Grant("topic", department_prefix(DESK), "prefixed", ("READ",)))
           if DESK in departments else ())
    reads = tuple(Grant("topic", t, "literal", ("READ", "DESCRIBE")) for t in UNIFIED_TOPICS)
    return Principal(DESK, "desk", (
        *own,
        *reads,
        Grant("topic", AUDIT, "literal", ("WRITE", "DESCRIBE")),
        Grant("group", desk_group, "prefixed", ("READ", "DESCRIBE")),
    ))


def _exporter() -> Principal:
    return Principal(EXPORTER, "exporter", (
        Grant("topic", WILDCARD, "literal", ("DESCRIBE",)),
        Grant("group", WILDCARD, "literal", ("DESCRIBE",)),
        Grant("cluster", CLUSTER, "literal", ("DESCRIBE",)),
    ))


def principals(registry: SchemaRegistry, settings: Settings) -> list[Principal]:
    """Every principal of the bus except the admin (a super user, without ACLs)."""
    departments = list(department_topics(registry))
    return [
        *(Principal(d, "department", (_department_grant(d),))
          for d in departments if d != DESK),
        _worker(registry, settings.worker_app_id),
        _desk(settings.desk_group, departments),
        _exporter(),
    ]


def by_name(table: Iterable[Principal]) -> dict[str, Principal]:
    """The table indexed by principal name; duplicate names are an error."""
    index: dict[str, Principal] = {}
    for principal in table:
        if principal.name in index or principal.name == ADMIN:
            raise ValueError(f"principal {principal.name!r} is defined twice")
        index[principal.name] = principal
    return index
