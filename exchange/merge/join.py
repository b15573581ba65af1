"""Foreign-key join between property and enterprise records, as pure functions.

Property facts are keyed by unit number and name owner enterprises by credit code; the Faust
worker routes the messages below through Kafka topics, these functions decide what to send
and how to fold what arrives. Both directions are join-semilattices, so links and snapshots
may arrive late, twice and out of order.

Property -> enterprise (:class:`OwnerLink`): whenever a property's ownership timeline changes
(a ``realestate.unit_registered`` is applied), every enterprise that appears as an owner in
any registration gets a link carrying the whole timeline *as that enterprise sees it*: for
each registration its event id, time, and whether (with what share) the enterprise is an
owner. No other owner is disclosed. The enterprise keeps the union of the timelines it
received per unit and derives ``state`` (owned / transferred), ``since`` and ``until`` from
it, so a stale link can never undo a newer one and the result equals what the property
record says.

Enterprise -> property (:func:`owner_snapshot`): name and status of the enterprise with an
``as_of`` version (the number of events the enterprise record has absorbed, then its latest
event). The property keeps the newest snapshot per credit code and shows, as
``owner_enterprise``, the one of its current primary enterprise owner; a snapshot of an
enterprise that is not (or no longer) an owner is kept but shown nowhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalogue import ENTERPRISE, PROPERTY, RecordMismatch
from .order import union_sorted
from .realty import derive_owner_enterprise, enterprise_owners

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Holding:
    """One registration of a unit as one enterprise sees it."""

    event_id: str
    occurred_at: str
    owned: bool
    share_percent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (also the form kept in the enterprise record)."""
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "owned": self.owned,
            "share_percent": self.share_percent,
        }


@dataclass(frozen=True, slots=True)
class OwnerLink:
    """Message from a property record to one (past or present) enterprise owner."""

    credit_code: str
    unit_number: str
    timeline: tuple[Holding, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the link topic (key: ``credit_code``)."""
        return {
            "credit_code": self.credit_code,
            "unit_number": self.unit_number,
            "timeline": [h.to_dict() for h in self.timeline],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OwnerLink:
        """Inverse of :meth:`to_dict`."""
        return cls(
            credit_code=data["credit_code"],
            unit_number=data["unit_number"],
            timeline=tuple(Holding(**h) for h in data["timeline"]),
        )

    @property
    def state(self) -> str:
        """``owned`` / ``transferred`` as this link alone says."""
        return str(derive_holding([h.to_dict() for h in self.timeline])["state"])


def derive_holding(timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """State of a unit for an enterprise from its sorted timeline of holdings.

    ``owned`` if the latest registration names it, ``since`` the first registration of that
    unbroken run; ``transferred`` if an earlier one did, ``until`` the registration that
    ended its last run; ``not_owned`` if none did.
    """
    owned = [i for i, h in enumerate(timeline) if h["owned"]]
    if not owned:
        return {"state": "not_owned", "since": None, "until": None, "share_percent": None}
    last = owned[-1]
    start = last
    while start > 0 and timeline[start - 1]["owned"]:
        start -= 1
    since = {k: timeline[start][k] for k in ("event_id", "occurred_at")}
    if last == len(timeline) - 1:
        state, until = "owned", None
    else:
        state, until = (
            "transferred",
            {k: timeline[last + 1][k] for k in ("event_id", "occurred_at")},
        )
    return {
        "state": state,
        "since": since,
        "until": until,
        "share_percent": timeline[last]["share_percent"],
    }


def _check(record: Mapping[str, Any], kind: str, key: str | None = None) -> None:
    if record["kind"] != kind:
        raise RecordMismatch(f"expected a {kind} record, got a {record['kind']} one")
    if key is not None and record["key"] != key:
        raise RecordMismatch(f"message for {key!r} applied to record {record['key']!r}")


def owner_links(old: Record | None, new: Record) -> list[OwnerLink]:
    """Links to send after a property record went from ``old`` to ``new`` (sorted by code).

    Empty unless the ownership timeline changed; then one link per enterprise named as an
    owner in any registration of the unit (current owners, added owners, former owners).
    """
    _check(new, PROPERTY)
    history = new["collections"]["ownership"]["history"]
    if old is not None:
        before = old["collections"]["ownership"]["history"]
        if before is history or [e["event_id"] for e in before] == [e["event_id"] for e in history]:
            return []
    per_registration = [enterprise_owners(e.get("owners") or []) for e in history]
    codes = sorted({code for owners in per_registration for code in owners})
    return [
        OwnerLink(
            credit_code=code,
            unit_number=new["key"],
            timeline=tuple(
                Holding(
                    event_id=e["event_id"],
                    occurred_at=e["occurred_at"],
                    owned=code in owners,
                    share_percent=owners[code].get("share_percent") if code in owners else None,
                )
                for e, owners in zip(history, per_registration, strict=True)
            ),
        )
        for code in codes
    ]


def apply_owner_link(enterprise_record: Record, link: OwnerLink) -> Record:
    """Fold a link into ``collections.properties[unit_number]`` of the enterprise record.

    Same contract as :func:`exchange.merge.merge`: the argument is not mutated, unchanged
    parts are shared, and a link that adds nothing returns the same object.
    """
    _check(enterprise_record, ENTERPRISE, link.credit_code)
    properties = enterprise_record["collections"]["properties"]
    current = properties.get(link.unit_number)
    incoming = [h.to_dict() for h in link.timeline]
    if current is not None:
        known = {h["event_id"] for h in current["timeline"]}
        if all(h["event_id"] in known for h in incoming):
            return enterprise_record
        timeline = union_sorted(current["timeline"], incoming)
    else:
        timeline = union_sorted([], incoming)
    new = dict(enterprise_record)
    new["collections"] = {
        **enterprise_record["collections"],
        "properties": {
            **properties,
            link.unit_number: {**derive_holding(timeline), "timeline": timeline},
        },
    }
    return new


def owner_snapshot(enterprise_record: Record) -> dict[str, Any]:
    """What a property shows of its owner enterprise: name, status and an as-of version."""
    _check(enterprise_record, ENTERPRISE)
    history = enterprise_record["history"]
    name = enterprise_record["fields"].get("name")
    latest = history[-1] if history else None
    return {
        "credit_code": enterprise_record["key"],
        "name": None if name is None else name["value"],
        "status": enterprise_record["status"],
        "as_of": None
        if latest is None
        else {
            "event_id": latest["event_id"],
            "occurred_at": latest["occurred_at"],
            "events": len(history),
        },
    }


def _stamp(snapshot: Mapping[str, Any]) -> tuple[int, str, str]:
    as_of = snapshot.get("as_of") or {}
    return (
        int(as_of.get("events", 0)),
        str(as_of.get("occurred_at", "")),
        str(as_of.get("event_id", "")),
    )


def _newer(snapshot: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Total order of snapshots: more events absorbed wins, then latest event, then content.

    An enterprise record only grows, so a snapshot that has absorbed more events is newer;
    the content tie-break only makes the order total (for records rebuilt in another order).
    The content (its sorted JSON) is serialised only on a tie: it was most of the cost of a
    snapshot message.
    """
    mine, theirs = _stamp(snapshot), _stamp(current)
    if mine != theirs:
        return mine > theirs
    return _content_key(snapshot) > _content_key(current)


def _content_key(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(snapshot, sort_keys=True, ensure_ascii=False)


def apply_owner_snapshot(
    property_record: Record, credit_code: str, snapshot: Mapping[str, Any]
) -> Record:
    """Keep the newest snapshot of ``credit_code`` and recompute ``owner_enterprise``.

    Same contract as :func:`exchange.merge.merge` (no mutation, same object if unchanged).
    """
    _check(property_record, PROPERTY)
    if snapshot.get("credit_code", credit_code) != credit_code:
        raise RecordMismatch(f"snapshot of {snapshot.get('credit_code')!r} sent as {credit_code!r}")
    snapshots = property_record["collections"]["owner_snapshots"]
    current = snapshots.get(credit_code)
    if current is not None and not _newer(snapshot, current):
        return property_record
    collections = {
        **property_record["collections"],
        # A JSON copy: the record shares nothing with the caller's message and stays JSON-able.
        "owner_snapshots": {
            **snapshots,
            credit_code: {**json.loads(json.dumps(snapshot)), "credit_code": credit_code},
        },
    }
    new = dict(property_record)
    new["collections"] = collections
    new["owner_enterprise"] = derive_owner_enterprise(collections)
    return new


def snapshot_targets(old: Record | None, new: Record) -> list[str]:
    """Unit numbers to which the worker must push :func:`owner_snapshot` of ``new``.

    Every unit the enterprise owns or once owned if name, status or the as-of version
    changed, else the units newly linked (a first link just arrived); sorted.
    """
    _check(new, ENTERPRISE)
    properties = new["collections"]["properties"]
    before = {} if old is None else old["collections"]["properties"]
    content_changed = old is None or _content(old) != _content(new)
    # Former owners push too: a property keeps the snapshot of every enterprise that ever
    # owned it, and whether a former owner ever saw itself as owner depends on arrival order.
    return sorted(unit for unit in properties if content_changed or unit not in before)


def property_links_changed(old: Record | None, new: Record) -> bool:
    """Whether the worker must push a new snapshot to some owned property (see above)."""
    return bool(snapshot_targets(old, new))


def _content(record: Mapping[str, Any]) -> tuple[Any, Any, int, Any]:
    # The as-of version is part of what a property shows, so every version is pushed: the
    # snapshot a property ends with is then the one of the complete enterprise record, the
    # same whatever the order and batching of the events (a push per change of name or
    # status only would leave a version that depends on when those changes were seen).
    name = record["fields"].get("name")
    history = record["history"]
    last = history[-1]["event_id"] if history else None
    return (None if name is None else name["value"], record["status"], len(history), last)
