"""Rules of the property record: ownership, contracts, encumbrances, taxes, owner enterprise.

The kept state is a set of registers and timelines (see :mod:`.order`):

- ``collections.ownership.history``: every ``realestate.unit_registered`` sorted by time;
  ``current`` and ``since`` are its last entry's owners and event;
- ``collections.contracts[contract_number]``: latest ``realestate.contract_filed``;
- ``collections.{mortgages,seizures,objections}[id]``: one register per phase (e.g.
  ``registered`` and ``released``); ``state`` is the state of the phase that happened last;
- ``collections.tax_assessments[contract_number]``: latest ``tax.property_tax_assessed``;
- ``collections.tax_payments[payment_reference]``: latest ``tax.property_tax_paid`` (a
  payment republished under a new event id is counted once);
- ``collections.owner_snapshots[credit_code]``: newest snapshot of an owner enterprise
  (written only by :func:`exchange.merge.join.apply_owner_snapshot`).

``status``, ``encumbrances``, ``taxes``, ``conflicts`` and ``owner_enterprise`` are derived.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .order import insert_sorted, order_of, put_register
from .values import money, normalise_text

#: event type -> (collection, id field, phase it records)
LIFECYCLE_EVENTS: dict[str, tuple[str, str, str]] = {
    "realestate.mortgage_registered": ("mortgages", "mortgage_id", "registered"),
    "realestate.mortgage_released": ("mortgages", "mortgage_id", "released"),
    "realestate.seizure_registered": ("seizures", "seizure_id", "registered"),
    "realestate.seizure_lifted": ("seizures", "seizure_id", "lifted"),
    "realestate.objection_registered": ("objections", "objection_id", "registered"),
    "realestate.objection_cancelled": ("objections", "objection_id", "cancelled"),
}

#: collection -> {phase: state it leads to}; the first phase's state counts as active.
PHASE_STATES: dict[str, dict[str, str]] = {
    "mortgages": {"registered": "registered", "released": "released"},
    "seizures": {"registered": "active", "lifted": "lifted"},
    "objections": {"registered": "active", "cancelled": "cancelled"},
}

_ENCUMBRANCE_KEYS = {
    "mortgages": "active_mortgages",
    "seizures": "active_seizures",
    "objections": "active_objections",
}

_KEEP_OUT = frozenset({"unit_number"})  # repeated in every body: the record key


def initial_state() -> dict[str, Any]:
    """The property-only parts of an empty record."""
    return {
        "status": "pending",
        "collections": {
            "ownership": {"current": [], "since": None, "history": []},
            "contracts": {},
            "mortgages": {},
            "seizures": {},
            "objections": {},
            "tax_assessments": {},
            "tax_payments": {},
            "owner_snapshots": {},
        },
        "encumbrances": {"active_mortgages": 0, "active_seizures": 0, "active_objections": 0},
        "taxes": {},
    }


def _entry(event_id: str, at: str, body: Mapping[str, Any], *skip: str) -> dict[str, Any]:
    """The event's (already JSON-able) body as a register entry: stamp plus fields."""
    entry = {"event_id": event_id, "occurred_at": at}
    for name, value in body.items():
        if name not in _KEEP_OUT and name not in skip:
            entry[name] = value
    return entry


def _with_collection(new: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """Replace one collection in ``new`` (copying the collections map); return the map."""
    collections = dict(new["collections"])
    collections[name] = value
    new["collections"] = collections
    return collections


def apply(new: dict[str, Any], event_type: str, event_id: str, at: str, body: Any) -> None:
    """Fold the event's collection rules into ``new`` (a fresh top-level dict).

    ``body`` is the event body already converted by :func:`.values.to_json`.
    """
    lifecycle = LIFECYCLE_EVENTS.get(event_type)
    if lifecycle is not None:
        _apply_phase(new, *lifecycle, event_id, at, body)
    elif event_type == "realestate.unit_registered":
        ownership = new["collections"]["ownership"]
        history = insert_sorted(ownership["history"], _entry(event_id, at, body))
        latest = history[-1]
        since = {
            "event_id": latest["event_id"],
            "occurred_at": latest["occurred_at"],
            "registered_on": latest.get("registered_on"),
        }
        collections = _with_collection(
            new,
            "ownership",
            {"current": latest.get("owners", []), "since": since, "history": history},
        )
        new["status"] = "registered"
        new["owner_enterprise"] = derive_owner_enterprise(collections)
    elif event_type in ("realestate.contract_filed", "tax.property_tax_assessed"):
        name = "contracts" if event_type == "realestate.contract_filed" else "tax_assessments"
        number = str(body["contract_number"])
        updated = put_register(
            new["collections"][name], number, _entry(event_id, at, body, "contract_number")
        )
        if updated is not None:
            collections = _with_collection(new, name, updated)
            new["conflicts"] = derive_conflicts(collections)
            if name == "tax_assessments":
                new["taxes"] = derive_taxes(collections)
    elif event_type == "tax.property_tax_paid":
        updated = put_register(
            new["collections"]["tax_payments"],
            str(body["payment_reference"]),
            _entry(event_id, at, body, "payment_reference"),
        )
        if updated is not None:
            new["taxes"] = derive_taxes(_with_collection(new, "tax_payments", updated))


def _apply_phase(
    new: dict[str, Any], name: str, id_field: str, phase: str, event_id: str, at: str, body: Any
) -> None:
    """Record one phase of a mortgage, seizure or objection; recompute its state."""
    items = new["collections"][name]
    item_id = str(body[id_field])
    phases = PHASE_STATES[name]
    item = items.get(item_id) or {"state": None, **dict.fromkeys(phases)}
    candidate = _entry(event_id, at, body, id_field)
    current = item[phase]
    if current is not None and order_of(candidate) <= order_of(current):
        return
    item = {**item, phase: candidate}
    last = max((p for p in phases if item[p] is not None), key=lambda p: order_of(item[p]))
    item["state"] = phases[last]
    collections = _with_collection(new, name, {**items, item_id: item})
    active = next(iter(phases.values()))
    new["encumbrances"] = {
        **new["encumbrances"],
        _ENCUMBRANCE_KEYS[name]: sum(1 for i in collections[name].values() if i["state"] == active),
    }


def derive_taxes(collections: Mapping[str, Any]) -> dict[str, Any]:
    """Per contract number: latest assessed total, sum of distinct payments, paid in full.

    ``assessed`` is ``None`` while only payments arrived; ``paid_in_full`` needs an
    assessment and payments reaching its total.
    """
    assessed: dict[str, Decimal | None] = {
        number: Decimal(a["total_due"]) for number, a in collections["tax_assessments"].items()
    }
    paid: dict[str, Decimal] = {}
    for payment in collections["tax_payments"].values():
        number = payment["contract_number"]
        paid[number] = paid.get(number, Decimal(0)) + Decimal(payment["amount_paid"])
        assessed.setdefault(number, None)
    taxes = {}
    for number in sorted(assessed):
        due, amount = assessed[number], paid.get(number, Decimal(0))
        taxes[number] = {
            "assessed": None if due is None else money(due),
            "paid": money(amount),
            "paid_in_full": due is not None and amount >= due,
        }
    return taxes


def derive_conflicts(collections: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``buyer[<contract number>]``: the tax payer is not among the filed contract's buyers.

    Real estate (the contract filing) and tax (the assessment's payer) must name the same
    transferee; they agree when the payer's credit code or normalised name matches a buyer.
    """
    conflicts = []
    assessments = collections["tax_assessments"]
    for number, contract in sorted(collections["contracts"].items()):
        assessment = assessments.get(number)
        if assessment is None:
            continue
        buyers = contract.get("buyers") or []
        names = {normalise_text(b.get("name")) for b in buyers}
        codes = {b.get("credit_code") for b in buyers if b.get("credit_code")}
        payer_code = assessment.get("payer_credit_code")
        if (payer_code and payer_code in codes) or normalise_text(
            assessment.get("payer_name")
        ) in names:
            continue
        stamp = ("event_id", "occurred_at")
        conflicts.append(
            {
                "attribute": f"buyer[{number}]",
                "values": [
                    {
                        "department": "realestate",
                        "value": [b.get("name") for b in buyers],
                        **{k: contract[k] for k in stamp},
                    },
                    {
                        "department": "tax",
                        "value": assessment.get("payer_name"),
                        **{k: assessment[k] for k in stamp},
                    },
                ],
            }
        )
    return conflicts


def enterprise_owners(owners: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The owners that are enterprises with a credit code, by credit code."""
    return {
        o["credit_code"]: o
        for o in owners
        if o.get("owner_type") == "ENTERPRISE" and o.get("credit_code")
    }


def derive_owner_enterprise(collections: Mapping[str, Any]) -> dict[str, Any] | None:
    """Name and status of the primary enterprise owner, ``None`` if no owner is an enterprise.

    Primary: the largest share, then the smallest credit code. Name and status come from the
    newest snapshot of that enterprise; before one arrives, the name is the registry's and
    status and ``as_of`` are ``None``.
    """
    owners = enterprise_owners(collections["ownership"]["current"])
    if not owners:
        return None
    code = min(owners, key=lambda c: (-Decimal(owners[c].get("share_percent") or 0), c))
    snapshot = collections["owner_snapshots"].get(code)
    if snapshot is None:
        return {
            "credit_code": code,
            "name": owners[code].get("name"),
            "status": None,
            "as_of": None,
        }
    return {
        "credit_code": code,
        "name": snapshot.get("name"),
        "status": snapshot.get("status"),
        "as_of": snapshot.get("as_of"),
    }
