"""Property-based proof that the merge is a join-semilattice fold.

For generated event sets (few keys, all event types, bodies that collide, times from a few
minutes so ties are common): any permutation, any duplication and any split into halves
give the same record, and so do the join messages (owner links, snapshots) in any order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_merge_samples import CREDIT, CREDIT_B, UNIT, event_sets, fold, roundtrip

from exchange.merge import (
    OwnerLink,
    Record,
    apply_owner_link,
    apply_owner_snapshot,
    merge,
    new_record,
    owner_links,
    owner_snapshot,
)
from exchange.merge.join import derive_holding
from exchange.merge.values import instant

pytestmark = pytest.mark.unit

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_record_events = st.one_of(event_sets("enterprise", CREDIT), event_sets("property", UNIT))


@FAST
@given(events=any_record_events, data=st.data())
def test_any_permutation_gives_the_same_record(events: list[Any], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(events))
    expected = fold(events)
    assert roundtrip(fold(shuffled)) == roundtrip(expected)
    assert roundtrip(expected) == expected  # JSON-able, nothing lost


@FAST
@given(events=any_record_events, data=st.data())
def test_any_duplication_gives_the_same_record(events: list[Any], data: st.DataObject) -> None:
    extra = data.draw(st.lists(st.sampled_from(events), max_size=len(events) * 2))
    redelivered = data.draw(st.permutations(events + extra))
    assert roundtrip(fold(redelivered)) == roundtrip(fold(events))


@FAST
@given(events=any_record_events, data=st.data())
def test_halves_in_any_order_equal_the_sequential_fold(
    events: list[Any], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(events)))
    first, second = events[:cut], events[cut:]
    expected = fold(events)
    assert fold(second, fold(first) if first else None) == expected
    assert fold(first, fold(second) if second else None) == expected
    # Folding continues from a record read back from JSON (a Faust table) just the same.
    if first and second:
        assert fold(second, roundtrip(fold(first))) == expected


@FAST
@given(events=any_record_events)
def test_merging_an_applied_event_returns_the_record_itself(events: list[Any]) -> None:
    record = fold(events)
    for event in events:
        assert merge(record, event) is record


@FAST
@given(events=any_record_events)
def test_merge_never_mutates_its_argument(events: list[Any]) -> None:
    record: Record | None = None
    for event in events:
        before = roundtrip(record)
        updated = merge(record, event)
        assert roundtrip(record) == before
        record = updated


@st.composite
def linked_property(draw: st.DrawFn) -> tuple[list[Any], list[OwnerLink]]:
    """Property events in some arrival order and the links emitted while folding them."""
    events = draw(event_sets("property", UNIT, max_size=20))
    order = draw(st.permutations(events))
    links: list[OwnerLink] = []
    record: Record | None = None
    for event in order:
        updated = merge(record, event)
        links.extend(owner_links(record, updated))
        record = updated
    return events, links


def _holdings(links: list[OwnerLink]) -> dict[str, Any]:
    records = {code: new_record("enterprise", code) for code in (CREDIT, CREDIT_B)}
    for link in links:
        records[link.credit_code] = apply_owner_link(records[link.credit_code], link)
    return {code: roundtrip(r["collections"]["properties"]) for code, r in records.items()}


@FAST
@given(first=linked_property(), data=st.data())
def test_owner_links_in_any_order_and_number_converge(
    first: tuple[list[Any], list[OwnerLink]], data: st.DataObject
) -> None:
    events, links = first
    # Links from this processing, shuffled and some redelivered.
    extra = data.draw(st.lists(st.sampled_from(links), max_size=5)) if links else []
    shuffled = data.draw(st.permutations(links + extra))
    # What the final property record says each enterprise holds.
    final = fold(events)
    expected: dict[str, Any] = {}
    for link in owner_links(None, final):
        timeline = [h.to_dict() for h in link.timeline]
        expected[link.credit_code] = {
            link.unit_number: {**derive_holding(timeline), "timeline": timeline}
        }
    got = _holdings(shuffled)
    for code in (CREDIT, CREDIT_B):
        assert got[code] == roundtrip(expected.get(code, {}))


@FAST
@given(events=event_sets("property", UNIT, max_size=20), data=st.data())
def test_links_of_two_processings_in_different_orders_merge_to_the_same_holdings(
    events: list[Any], data: st.DataObject
) -> None:
    def emitted(order: list[Any]) -> list[OwnerLink]:
        out: list[OwnerLink] = []
        record: Record | None = None
        for event in order:
            updated = merge(record, event)
            out.extend(owner_links(record, updated))
            record = updated
        return out

    a = emitted(data.draw(st.permutations(events)))
    b = emitted(data.draw(st.permutations(events)))
    mixed = data.draw(st.permutations(a + b))
    assert _holdings(mixed) == _holdings(a)


@FAST
@given(
    enterprise_events=event_sets("enterprise", CREDIT, max_size=15),
    property_events=event_sets("property", UNIT, max_size=12),
    data=st.data(),
)
def test_owner_snapshots_in_any_order_give_the_newest(
    enterprise_events: list[Any], property_events: list[Any], data: st.DataObject
) -> None:
    # Snapshots of the enterprise after each event, as the worker would push them.
    snapshots = []
    record: Record | None = None
    for event in data.draw(st.permutations(enterprise_events)):
        record = merge(record, event)
        snapshots.append(owner_snapshot(record))
    final_snapshot = owner_snapshot(fold(enterprise_events))
    # Snapshots and property events interleaved in any order, snapshots redelivered.
    messages: list[Any] = [("event", e) for e in property_events]
    redelivered = data.draw(st.lists(st.sampled_from(snapshots)))
    messages += [("snapshot", s) for s in snapshots + redelivered]
    prop: Record = new_record("property", UNIT)
    for what, message in data.draw(st.permutations(messages)):
        prop = (
            merge(prop, message) if what == "event" else apply_owner_snapshot(prop, CREDIT, message)
        )
    reference = apply_owner_snapshot(fold(property_events), CREDIT, final_snapshot)
    assert roundtrip(prop) == roundtrip(reference)
    assert prop["collections"]["owner_snapshots"][CREDIT] == final_snapshot


@FAST
@given(moment=st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31), timezones=st.sampled_from(
    [None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))])))
def test_an_instant_is_what_isoformat_writes_in_utc(moment: datetime) -> None:
    """:func:`instant` formats by hand; ``isoformat`` of the UTC time is the reference."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    assert instant(moment) == utc.isoformat(timespec="milliseconds")[:23] + "Z"
