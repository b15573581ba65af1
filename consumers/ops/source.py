"""What the exporter reads from Kafka, behind a small interface (kafka-python's admin client).

kafka-python 3.0.12 names the calls ``list_groups`` (with each group's state),
``list_group_offsets`` (one OffsetFetch per coordinator for many groups, KIP-709) and
``list_partition_offsets`` (ListOffsets routed to each leader). Kafka errors stay Kafka errors
here; the collector decides what each one means for the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, OffsetSpec

# Group states with nobody consuming (classic and KIP-848 groups alike).
MEMBERLESS_STATES = frozenset({"empty", "dead"})


class OffsetSource(Protocol):
    """The reads one poll needs."""

    def groups(self) -> dict[str, bool]:
        """Every consumer group, mapped to whether it has active members."""
        ...

    def committed(self, groups: Iterable[str]) -> dict[str, dict[TopicPartition, int]]:
        """Committed offsets of the groups (raises on any group-level error)."""
        ...

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Latest offset of each partition (raises UnknownTopicOrPartitionError if one is gone)."""
        ...

    def existing(self, partitions: Iterable[TopicPartition]) -> set[TopicPartition]:
        """The partitions among ``partitions`` that the cluster still has."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class AdminOffsetSource:
    """:class:`OffsetSource` over one kafka-python ``KafkaAdminClient``."""

    def __init__(self, client_options: Mapping[str, object], timeout_ms: int) -> None:
        # A short bootstrap timeout: an unreachable broker must fail a poll, not hang it.
        self._admin = KafkaAdminClient(
            **client_options, client_id="exchange-lag-exporter",
            request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms,
            reconnect_backoff_max_ms=min(timeout_ms, 1000),
        )

    def groups(self) -> dict[str, bool]:
        """Every consumer group, mapped to whether it has active members."""
        listed = self._admin.list_groups()
        return {
            g["group_id"]: str(g.get("group_state", "")).lower() not in MEMBERLESS_STATES
            for g in listed
            if g.get("protocol_type", "consumer") in ("consumer", "")
        }

    def committed(self, groups: Iterable[str]) -> dict[str, dict[TopicPartition, int]]:
        """Committed offsets of the groups; partitions without a commit are left out."""
        wanted = list(groups)
        if not wanted:
            return {}
        fetched = self._admin.list_group_offsets({g: None for g in wanted})
        return {
            group: {tp: om.offset for tp, om in offsets.items() if om.offset >= 0}
            for group, offsets in fetched.items()
        }

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Latest offset of each partition."""
        specs = {tp: OffsetSpec.LATEST for tp in partitions}
        if not specs:
            return {}
        found = self._admin.list_partition_offsets(specs)
        return {tp: ot.offset for tp, ot in found.items()}

    def existing(self, partitions: Iterable[TopicPartition]) -> set[TopicPartition]:
        """The partitions among ``partitions`` that the cluster still has."""
        wanted = set(partitions)
        topics = sorted({tp.topic for tp in wanted})
        have: set[TopicPartition] = set()
        for desc in self._admin.describe_topics(topics):
            if desc.get("error_code", 0) == 0:
                have.update(TopicPartition(desc["name"], p["partition_index"])
                            for p in desc["partitions"])
        return wanted & have

    def close(self) -> None:
        """Close the admin client."""
        self._admin.close()
