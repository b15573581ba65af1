"""The property <-> enterprise foreign-key join: owner links and owner snapshots."""

from __future__ import annotations

import json

import pytest
from test_merge_samples import CREDIT, CREDIT_B, UNIT, UNIT_B, ev, fold, owner, roundtrip

from exchange.merge import (
    OwnerLink,
    RecordMismatch,
    apply_owner_link,
    apply_owner_snapshot,
    merge,
    new_record,
    owner_links,
    owner_snapshot,
    property_links_changed,
    snapshot_targets,
)

pytestmark = pytest.mark.unit

JIA = owner("成都甲科技有限公司", CREDIT)
YI = owner("成都乙贸易有限公司", CREDIT_B)


def _registered(minute: float, owners: list[dict[str, object]], event_id: str) -> object:
    return ev("realestate.unit_registered", minute=minute, owners=owners, event_id=event_id)


def test_a_first_registration_links_the_enterprise_owner() -> None:
    record = merge(None, _registered(1, [JIA, owner("王五")], "r1"))
    [link] = owner_links(None, record)
    assert link.credit_code == CREDIT and link.unit_number == UNIT
    assert link.state == "owned"
    assert link.to_dict()["timeline"] == [
        {
            "event_id": "r1",
            "occurred_at": "2024-03-01T08:01:00.000Z",
            "owned": True,
            "share_percent": "100.00",
        }
    ]
    assert OwnerLink.from_dict(roundtrip(link.to_dict())) == link


def test_a_transfer_links_both_the_old_and_the_new_owner() -> None:
    before = merge(None, _registered(1, [JIA], "r1"))
    after = merge(before, _registered(5, [YI], "r2"))
    links = {link.credit_code: link for link in owner_links(before, after)}
    assert links[CREDIT].state == "transferred"
    assert links[CREDIT_B].state == "owned"
    # Events that do not touch ownership send nothing.
    mortgaged = merge(after, ev("realestate.mortgage_registered"))
    assert owner_links(after, mortgaged) == []


def test_the_enterprise_records_owned_and_transferred_properties() -> None:
    first = merge(None, _registered(1, [JIA], "r1"))
    second = merge(first, _registered(5, [YI], "r2"))
    [owned] = owner_links(None, first)
    transferred = next(x for x in owner_links(first, second) if x.credit_code == CREDIT)
    jia = apply_owner_link(new_record("enterprise", CREDIT), owned)
    holding = jia["collections"]["properties"][UNIT]
    assert (holding["state"], holding["since"]["event_id"], holding["until"]) == (
        "owned",
        "r1",
        None,
    )
    jia = apply_owner_link(jia, transferred)
    holding = jia["collections"]["properties"][UNIT]
    assert holding["state"] == "transferred"
    assert holding["since"]["event_id"] == "r1"
    assert holding["until"]["event_id"] == "r2"
    # The stale "owned" link redelivered cannot undo the transfer, and changes nothing.
    assert apply_owner_link(jia, owned) is jia


def test_a_late_older_registration_still_tells_its_owner_it_was_transferred() -> None:
    # r2 (newer, to YI) is processed before r1 (older, to JIA).
    newer_first = merge(None, _registered(5, [YI], "r2"))
    both = merge(newer_first, _registered(1, [JIA], "r1"))
    links = {x.credit_code: x for x in owner_links(newer_first, both)}
    assert links[CREDIT].state == "transferred"
    assert links[CREDIT_B].state == "owned"


def test_links_are_checked_against_the_enterprise() -> None:
    [link] = owner_links(None, merge(None, _registered(1, [JIA], "r1")))
    with pytest.raises(RecordMismatch):
        apply_owner_link(new_record("enterprise", CREDIT_B), link)
    with pytest.raises(RecordMismatch):
        apply_owner_link(new_record("property", UNIT), link)


def test_owner_snapshot_carries_name_status_and_version() -> None:
    enterprise = fold(
        [
            ev("market.established", minute=1, event_id="m1"),
            ev("market.abnormal_listed", minute=2, event_id="m2"),
        ]
    )
    assert owner_snapshot(enterprise) == {
        "credit_code": CREDIT,
        "name": "成都甲科技有限公司",
        "status": "abnormal",
        "as_of": {"event_id": "m2", "occurred_at": "2024-03-01T08:02:00.000Z", "events": 2},
    }


def test_the_newest_snapshot_of_the_current_owner_shows_on_the_property() -> None:
    prop = merge(None, _registered(1, [JIA], "r1"))
    old = owner_snapshot(merge(None, ev("market.established", minute=1)))
    new = owner_snapshot(
        fold([ev("market.established", minute=1), ev("market.abnormal_listed", minute=2)])
    )
    for order in ([old, new], [new, old]):
        shown = prop
        for snapshot in order:
            shown = apply_owner_snapshot(shown, CREDIT, snapshot)
        assert shown["owner_enterprise"]["status"] == "abnormal"
    assert (
        apply_owner_snapshot(apply_owner_snapshot(prop, CREDIT, new), CREDIT, old)[
            "owner_enterprise"
        ]
        == apply_owner_snapshot(prop, CREDIT, new)["owner_enterprise"]
    )
    with pytest.raises(RecordMismatch):
        apply_owner_snapshot(prop, CREDIT_B, new)


def test_snapshots_of_the_same_version_are_ordered_by_content_whatever_the_arrival() -> None:
    # Same events absorbed, same latest event: only the content (its sorted JSON) decides,
    # so that a property ends with the same snapshot in any order.
    prop = merge(None, _registered(1, [JIA], "r1"))
    snapshot = owner_snapshot(merge(None, ev("market.established", minute=1)))
    renamed = {**snapshot, "name": "成都甲科技股份有限公司"}
    greater = max(snapshot, renamed, key=lambda s: json.dumps(s, sort_keys=True,
                                                              ensure_ascii=False))
    for order in ([snapshot, renamed], [renamed, snapshot], [renamed, snapshot, renamed]):
        shown = prop
        for each in order:
            shown = apply_owner_snapshot(shown, CREDIT, each)
        assert shown["owner_enterprise"]["name"] == greater["name"]
    once = apply_owner_snapshot(prop, CREDIT, snapshot)
    assert apply_owner_snapshot(once, CREDIT, dict(snapshot)) is once  # an equal one: no change


def test_a_snapshot_of_an_enterprise_that_does_not_own_the_unit_shows_nowhere() -> None:
    prop = fold([_registered(1, [JIA], "r1"), _registered(5, [owner("王五")], "r2")])
    snapshot = owner_snapshot(merge(None, ev("market.established")))
    updated = apply_owner_snapshot(prop, CREDIT, snapshot)
    assert updated["owner_enterprise"] is None
    # Kept, so that the outcome does not depend on arriving before the registration:
    early = apply_owner_snapshot(new_record("property", UNIT), CREDIT, snapshot)
    registered = merge(early, _registered(1, [JIA], "r1"))
    assert registered["owner_enterprise"]["status"] == "active"


def test_snapshot_targets_tell_the_worker_where_to_push() -> None:
    prop_a = merge(None, _registered(1, [JIA], "r1"))
    prop_b = merge(None, ev("realestate.unit_registered", key=UNIT_B, owners=[JIA]))
    [link_a], [link_b] = owner_links(None, prop_a), owner_links(None, prop_b)
    enterprise = merge(None, ev("market.established", minute=1))
    with_a = apply_owner_link(enterprise, link_a)
    assert snapshot_targets(enterprise, with_a) == [UNIT]  # newly owned
    with_both = apply_owner_link(with_a, link_b)
    assert snapshot_targets(with_a, with_both) == [UNIT_B]
    # Every new version is pushed, so that the snapshot a property ends with does not depend
    # on how the worker batched the enterprise's events.
    sealed = merge(with_both, ev("seal.seal_engraved", minute=2))
    assert snapshot_targets(with_both, sealed) == [UNIT, UNIT_B]
    assert not property_links_changed(sealed, sealed)
    listed = merge(sealed, ev("market.abnormal_listed", minute=3))
    assert snapshot_targets(sealed, listed) == [UNIT, UNIT_B]
    assert property_links_changed(sealed, listed)
    assert snapshot_targets(None, listed) == [UNIT, UNIT_B]
