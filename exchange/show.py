"""``exchange show``: the current unified record of one enterprise or property.

The record is read from the compacted output topic (the partition that holds the key, from
its start to its end) and cut for the caller's ``--role`` by :mod:`exchange.privacy` (default
``clerk``: resident ID numbers masked, withheld classes withheld; ``supervisor`` sees IDs in
full). Every read, found or not, first appends an entry (who, role, what, when) to this
writer's hash chain on the audit topic (:mod:`exchange.audit_topic`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from exchange.privacy import ROLES
from exchange.settings import Settings
from exchange.topics import ENTERPRISE_OUT, PROPERTY_OUT

OUTPUT_TOPIC = {"enterprise": ENTERPRISE_OUT, "property": PROPERTY_OUT}


def read_record(
    settings: Settings, kind: str, key: str, timeout_s: float = 30.0
) -> dict[str, Any] | None:
    """The latest unified record for ``key`` on the output topic, or None if there is none."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.partitioner.default import murmur2

    from exchange.worker import records_codec

    topic = OUTPUT_TOPIC[kind]
    consumer = KafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=int(timeout_s * 1000))
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return None
        key_bytes = key.encode()
        tp = TopicPartition(topic, (murmur2(key_bytes) & 0x7FFFFFFF) % len(partitions))
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        latest: bytes | None = None
        while consumer.position(tp) < end:
            for message in consumer.poll(timeout_ms=1000).get(tp, []):
                if message.key == key_bytes:
                    latest = message.value
        return records_codec.decode(latest) if latest is not None else None
    finally:
        consumer.close()


def audit_read(settings: Settings, kind: str, key: str, found: bool,
               role: str = "clerk") -> dict[str, Any]:
    """Append who read which record, as which role, and when, to the chained audit topic."""
    from exchange.audit_topic import append, writer_id

    who = writer_id(settings).rsplit("@", 1)[0]
    return append(settings, who, role, f"read {kind}", f"{kind}:{key}",
                  {"found": found, "via": "exchange show"})


def masked(record: dict[str, Any], role: str, settings: Settings) -> dict[str, Any]:
    """The record as ``role`` may see it (:func:`exchange.privacy.mask_record`)."""
    from exchange.privacy import mask_record
    from exchange.schemas import default_registry

    return mask_record(record, role, default_registry(settings))


def render(record: dict[str, Any]) -> None:
    """Print a record for a person: fields with their source, completeness, conflicts."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{record['kind']} {record['key']}[/bold]  status: {record.get('status')}")
    fields = Table("attribute", "value", "department", "event", "occurred at", title="fields")
    for name, src in sorted(record.get("fields", {}).items()):
        fields.add_row(name, json.dumps(src["value"], ensure_ascii=False), src["department"],
                       src["event_id"][:8], src["occurred_at"])
    console.print(fields)
    done = Table("department", "arrived", "missing", title="completeness")
    for dept, c in sorted(record.get("completeness", {}).items()):
        done.add_row(dept, ", ".join(c["arrived"]) or "-", ", ".join(c["missing"]) or "-")
    console.print(done)
    for conflict in record.get("conflicts", []):
        values = "; ".join(f"{v['department']}={v['value']!r}" for v in conflict["values"])
        console.print(f"[red]conflict[/red] {conflict['attribute']}: {values}")


@click.command("show")
@click.argument("kind", type=click.Choice(sorted(OUTPUT_TOPIC)))
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@click.option("--role", type=click.Choice(ROLES), default="clerk", show_default=True,
              help="Whose view: personal ID numbers are shown in full to supervisor only.")
def show_command(kind: str, key: str, as_json: bool, role: str) -> None:
    """Print the unified record of an enterprise (credit code) or property (unit number)."""
    from exchange.settings import load_settings

    settings = load_settings()
    found = read_record(settings, kind, key)
    audit_read(settings, kind, key, found is not None, role)
    if found is None:
        raise click.ClickException(f"no unified {kind} record for {key} on {OUTPUT_TOPIC[kind]}")
    record = masked(found, role, settings)
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        render(record)
