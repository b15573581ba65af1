"""A forbidden field never leaves the server: no full resident ID number in error messages,
dead letters, worker log lines, ``exchange show`` output (unless ``--role supervisor``), and no
identifier of a person, enterprise or property in a metric label."""

from __future__ import annotations

import copy
import json
import logging
import re
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from exchange import codec, show
from exchange.errors import ExchangeError
from exchange.events import from_avro
from exchange.identifiers import corrupt_resident_id_check, validate_resident_id
from exchange.merge import merge
from exchange.privacy import scrub_text
from exchange.schemas import default_registry
from exchange.worker import records_codec
from exchange.worker.metrics import WorkerMetrics
from exchange.worker.processor import Incoming, process_enterprise_batch, process_property_batch
from producers.simulator import simulate
from producers.unchecked import encode_unchecked

pytestmark = pytest.mark.unit

ID_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]")  # also the shape of an all-digit credit code
CREDIT_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
UNIT_SHAPE = re.compile(r"[0-9]{12}[A-Z]{2}[0-9]{5}[A-Z][0-9]{8}")


@pytest.fixture(scope="module")
def established() -> list[Any]:
    """Valid ``market.established`` events (they carry the legal representative's ID)."""
    events = [e for e in simulate(8, 0, seed=77) if e.event_type == "market.established"]
    assert events and all(e.record["legal_representative_id"] for e in events)
    return events


def has_resident_id(text: str) -> bool:
    """Whether ``text`` holds a valid resident ID number (what privacy's scrubber masks)."""
    return scrub_text(text) != text


def _with_bad_id(event: Any, seed: int) -> tuple[dict[str, Any], str]:
    import random

    record = copy.deepcopy(event.record)
    bad = corrupt_resident_id_check(record["legal_representative_id"], rng=random.Random(seed))
    record["legal_representative_id"] = bad
    return record, bad


def test_identifier_and_codec_errors_never_quote_a_resident_id(established: list[Any]) -> None:
    registry = default_registry()
    for i, event in enumerate(established):
        record, bad = _with_bad_id(event, i)
        for attempt in (lambda r=record: validate_resident_id(r["legal_representative_id"]),
                        lambda r=record: codec.encode("market.established", r,
                                                      registry=registry),
                        lambda r=record: codec.validate_identifiers("market.established", r,
                                                                    registry=registry)):
            with pytest.raises(ExchangeError) as caught:
                attempt()
            text = " ".join(str(e) for e in _chain(caught.value))
            assert bad not in text and not has_resident_id(text), text


def _chain(exc: BaseException | None) -> list[BaseException]:
    out = []
    while exc is not None:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def test_dead_letters_and_worker_log_lines_never_quote_a_resident_id(
        established: list[Any], caplog: pytest.LogCaptureFixture) -> None:
    registry = default_registry()
    batch, secrets = [], []
    for i, event in enumerate(established):
        record, bad = _with_bad_id(event, i)
        secrets += [bad, event.record["legal_representative_id"]]
        value = encode_unchecked(registry, "market.established", record)
        key = str(record["envelope"]["key"]).encode()
        batch.append(Incoming("dept.market.enterprise", 0, i, key, value, {}))
        # A valid ID inside a message refused for another reason (key != envelope key).
        valid = encode_unchecked(registry, "market.established", event.record)
        batch.append(Incoming("dept.market.enterprise", 0, 100 + i, b"X" + key, valid, {}))
    result = process_enterprise_batch(batch, lambda _k: None, registry)
    assert len(result.dead_letters) == len(batch)
    log = logging.getLogger("exchange.worker.app")
    with caplog.at_level(logging.WARNING):
        for dl in result.dead_letters:  # the agent's own log line, word for word
            log.warning("dead letter %s[%d]@%d: %s: %s", dl.incoming.topic,
                        dl.incoming.partition, dl.incoming.offset, dl.error_class, dl.reason)
    headers = [v.decode() for dl in result.dead_letters
               for _, v in records_codec.dead_letter_headers(dl)]
    for text in [caplog.text, *headers, *(dl.reason for dl in result.dead_letters)]:
        assert not any(s in text for s in secrets), text
        assert not has_resident_id(text), text


def _record_with_ids(established: list[Any]) -> tuple[dict[str, Any], str]:
    event = established[0]
    record = merge(None, from_avro("market.established", event.record))
    return record, event.record["legal_representative_id"]


@pytest.mark.parametrize("as_json", [True, False])
def test_show_masks_resident_ids_unless_supervisor(
        established: list[Any], monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    record, rep_id = _record_with_ids(established)
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps cells on a narrow terminal
    audited: list[tuple[str, ...]] = []
    monkeypatch.setattr(show, "read_record", lambda *_a, **_k: record)
    monkeypatch.setattr(show, "audit_read",
                        lambda _s, kind, key, found, role="clerk": audited.append((key, role)))
    args = ["enterprise", record["key"], *(["--json"] if as_json else [])]
    runner = CliRunner()
    for role in (None, "clerk", "auditor", "applicant"):
        out = runner.invoke(show.show_command, args + ([] if role is None else ["--role", role]),
                            terminal_width=200)
        assert out.exit_code == 0, out.output
        assert rep_id not in out.output, (role, out.output[-600:])
        assert role == "applicant" or rep_id[:6] in out.output, (role, out.output)
    full = runner.invoke(show.show_command, [*args, "--role", "supervisor"], terminal_width=200)
    assert full.exit_code == 0 and rep_id in full.output
    assert [r for _, r in audited] == ["clerk", "clerk", "auditor", "applicant", "supervisor"]
    if as_json:
        shown = json.loads(runner.invoke(show.show_command, args).output)
        assert shown["fields"]["legal_representative_id"]["masked"] == "partial"


def _label_values(registry: CollectorRegistry) -> list[str]:
    return [v for family in registry.collect() for sample in family.samples
            for v in sample.labels.values()]


def _assert_no_identifier(values: list[str]) -> None:
    for value in values:
        for shape in (ID_SHAPE, CREDIT_SHAPE, UNIT_SHAPE):
            assert not shape.search(value), f"metric label value {value!r} is an identifier"


def test_worker_metric_labels_never_carry_identifiers() -> None:
    registry = default_registry()
    prom = CollectorRegistry()
    metrics = WorkerMetrics.create(prom)
    events = list(simulate(20, 15, seed=78, invalid_rate=0.2))
    assert any(e.invalid_reason for e in events)
    by_kind: dict[str, list[Incoming]] = {"enterprise": [], "property": []}
    keys: set[str] = set()
    for i, e in enumerate(events):
        info = registry.event(e.event_type)
        value = (codec.encode(e.event_type, e.record, registry=registry)
                 if e.invalid_reason is None else encode_unchecked(registry, e.event_type,
                                                                   e.record))
        key = str(e.record["envelope"]["key"])
        keys.add(key)
        kind = "property" if info.topic.endswith(".property") else "enterprise"
        by_kind[kind].append(Incoming(info.topic, i % 4, i, key.encode(), value, {}))
    for kind, process in (("enterprise", process_enterprise_batch),
                          ("property", process_property_batch)):
        result = process(by_kind[kind], lambda _k: None, registry)
        assert result.records
        metrics.record_batch(kind, len(by_kind[kind]), result)
    values = _label_values(prom)
    assert {"DecodeError", "ValidationError"} & set(values), values
    _assert_no_identifier(values)
    assert not keys & set(values)


def test_desk_and_exporter_metric_labels_never_carry_identifiers() -> None:
    from consumers.desk.metrics import DeskMetrics, QueueCounts
    from consumers.ops.metrics import LagMetrics

    prom = CollectorRegistry()
    desk = DeskMetrics.create(prom)
    desk.set_queue({"STARTUP": QueueCounts(3, 1, 1), "TRANSFER": QueueCounts(1, 0, 0)})
    LagMetrics.create(prom)
    names = {name for family in prom.collect() for sample in family.samples
             for name in sample.labels}
    assert names <= {"case_type", "kind", "group", "topic", "partition", "status", "reason",
                     "le", "department"}, names
    _assert_no_identifier(_label_values(prom))
