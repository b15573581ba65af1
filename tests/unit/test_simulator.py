"""The traffic simulator: deterministic, valid where meant, broken where meant, in domain order."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange import codec
from exchange.errors import ValidationError
from exchange.identifiers import (
    validate_credit_code,
    validate_resident_id,
    validate_unit_number,
)
from exchange.settings import REPO_ROOT
from producers.simulator import SimulatedEvent, simulate, to_json_line
from producers.simulator_cli import simulate_command

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def events() -> list[SimulatedEvent]:
    return list(simulate(300, 300, seed=11))


@pytest.fixture(scope="module")
def noisy() -> list[SimulatedEvent]:
    return list(simulate(200, 200, seed=5, shuffle=True, duplicate_rate=0.1, invalid_rate=0.2))


def _fingerprint(evs: list[SimulatedEvent]) -> list[tuple[str, str, str | None]]:
    return [(e.event_type, repr(e.record), e.invalid_reason) for e in evs]


def test_same_seed_same_events_different_seed_different() -> None:
    a = list(simulate(40, 40, seed=3, shuffle=True, duplicate_rate=0.1, invalid_rate=0.1))
    b = list(simulate(40, 40, seed=3, shuffle=True, duplicate_rate=0.1, invalid_rate=0.1))
    c = list(simulate(40, 40, seed=4, shuffle=True, duplicate_rate=0.1, invalid_rate=0.1))
    assert _fingerprint(a) == _fingerprint(b)
    assert _fingerprint(a) != _fingerprint(c)
    assert {e.event_id for e in a}.isdisjoint({e.event_id for e in c})


def test_every_event_type_occurs(events: list[SimulatedEvent]) -> None:
    types = {e.event_type for e in events}
    schemas = {p.parent.name + "." + p.stem for p in (REPO_ROOT / "schemas").glob("*/*.avsc")}
    schemas -= {"common.envelope", "realestate.owner", "exchange.unified_record",
                "desk.application_submitted"}  # the desks publish it, not the departments
    assert schemas <= types


def test_every_valid_event_passes_the_codec(events: list[SimulatedEvent]) -> None:
    for event in events:
        assert event.invalid_reason is None
        codec.validate(event.event_type, event.record)


def test_every_invalid_event_fails_as_its_reason_says(noisy: list[SimulatedEvent]) -> None:
    broken = [e for e in noisy if e.invalid_reason is not None]
    assert {r.invalid_reason.split(":")[0] for r in broken} == {  # type: ignore[union-attr]
        "invalid_credit_code",
        "invalid_unit_number",
        "invalid_resident_id",
        "wrong_type",
        "missing_field",
    }
    for event in noisy:
        if event.invalid_reason is None:
            codec.validate(event.event_type, event.record)
            continue
        kind, path = event.invalid_reason.split(": ")
        with pytest.raises(ValidationError) as info:
            codec.validate(event.event_type, event.record)
        assert info.value.field == path, event.invalid_reason
        if kind.startswith("invalid_"):
            assert kind.removeprefix("invalid_").replace("_", " ") in info.value.rule.lower()


def test_identifiers_valid(events: list[SimulatedEvent]) -> None:
    for event in events:
        record = event.record
        assert record["envelope"]["key"] == record.get("credit_code", record.get("unit_number"))
        if "credit_code" in record:
            validate_credit_code(record["credit_code"], strict=True)
        else:
            validate_unit_number(record["unit_number"], strict=True)
        for owner in record.get("owners", []) + record.get("buyers", []):
            if owner["credit_code"]:
                validate_credit_code(owner["credit_code"])
            else:
                validate_resident_id(owner["id_number"])
        if record.get("legal_representative_id"):
            validate_resident_id(record["legal_representative_id"])


def test_emitted_in_time_order_and_lifecycles_in_domain_order(events: list[SimulatedEvent]) -> None:
    times = [e.record["envelope"]["occurred_at"] for e in events]
    assert times == sorted(times)
    by_key: dict[str, dict[str, datetime]] = defaultdict(dict)
    for e in events:  # last occurrence per type and key
        by_key[e.record["envelope"]["key"]][e.event_type] = e.record["envelope"]["occurred_at"]
    deregistered = 0
    for facts in by_key.values():
        if "market.established" in facts:
            assert facts["market.established"] == min(facts.values())
        if "market.deregistered" in facts:
            deregistered += 1
            assert facts["market.deregistered"] == max(facts.values())
            for before in (
                "tax.clearance_issued",
                "social.employer_account_closed",
                "market.simplified_deregistration_notice",
            ):
                assert (
                    facts.get(before, datetime.min.replace(tzinfo=UTC))
                    < facts["market.deregistered"]
                )
        if "tax.property_tax_paid" in facts:
            assert facts["tax.property_tax_assessed"] < facts["tax.property_tax_paid"]
            assert facts["realestate.contract_filed"] < facts["tax.property_tax_assessed"]
    assert deregistered > 5


def test_transfers_go_to_simulated_enterprises(events: list[SimulatedEvent]) -> None:
    codes = {e.record["credit_code"] for e in events if e.event_type == "market.established"}
    transfers = [
        e.record
        for e in events
        if e.event_type == "realestate.unit_registered"
        and e.record["registration_kind"] == "TRANSFER"
    ]
    assert transfers
    assert all(r["owners"][0]["credit_code"] in codes for r in transfers)


def test_departments_disagree_sometimes(events: list[SimulatedEvent]) -> None:
    names = {
        e.record["credit_code"]: e.record["name"]
        for e in events
        if e.event_type == "market.established"
    }
    taxed = [e.record for e in events if e.event_type == "tax.taxpayer_registered"]
    differing = sum(names[r["credit_code"]] != r["taxpayer_name"] for r in taxed)
    assert 0 < differing < len(taxed) * 0.2


def test_shuffle_changes_order_not_content() -> None:
    plain = list(simulate(50, 50, seed=9))
    mixed = list(simulate(50, 50, seed=9, shuffle=True))
    assert _fingerprint(plain) != _fingerprint(mixed)
    assert Counter(_fingerprint(plain)) == Counter(_fingerprint(mixed))


def test_duplicate_rate_roughly_honoured() -> None:
    plain = list(simulate(150, 150, seed=2))
    doubled = list(simulate(150, 150, seed=2, duplicate_rate=0.2))
    extra = len(doubled) - len(plain)
    assert 0.15 * len(plain) < extra < 0.25 * len(plain)
    firsts: dict[str, SimulatedEvent] = {}
    for e in doubled:
        if e.event_id in firsts:
            assert e.record == firsts[e.event_id].record
        firsts[e.event_id] = e
    assert len(firsts) == len(plain)


def test_invalid_rate_does_not_change_the_world() -> None:
    plain = list(simulate(60, 60, seed=8))
    noisy = list(simulate(60, 60, seed=8, invalid_rate=0.3))
    assert [e.event_id for e in plain] == [e.event_id for e in noisy]
    share = sum(e.invalid_reason is not None for e in noisy) / len(noisy)
    assert 0.2 < share < 0.4


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="duplicate_rate"):
        list(simulate(1, 1, 1, duplicate_rate=1.5))


def test_json_lines_read_back_through_the_codec(noisy: list[SimulatedEvent]) -> None:
    for event in noisy[:600]:
        line = json.loads(to_json_line(event))
        assert line["event_type"] == event.event_type
        if event.invalid_reason is None:
            assert codec.from_json(event.event_type, line["event"]) == event.record
        else:
            with pytest.raises(ValidationError):
                codec.validate(event.event_type, codec.from_json(event.event_type, line["event"]))


def test_cli_writes_the_jsonl_file(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        simulate_command,
        [
            "--enterprises",
            "20",
            "--properties",
            "20",
            "--seed",
            "4",
            "--duplicates",
            "0.1",
            "--invalid",
            "0.1",
            "--shuffle",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    expected = list(simulate(20, 20, 4, shuffle=True, duplicate_rate=0.1, invalid_rate=0.1))
    assert lines == [to_json_line(e) for e in expected]
    assert f"{len(lines)} events (" in result.output
    assert "duplicates" in result.output and "invalid" in result.output


def test_cli_rejects_a_bad_rate() -> None:
    result = CliRunner().invoke(simulate_command, ["--duplicates", "2"])
    assert result.exit_code == 2
    assert "between 0 and 1" in result.output
