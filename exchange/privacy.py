"""Field-level privacy: what each desk role may see of a unified record or a case form.

Nothing here is a hand-made list of sensitive fields. Every value is traced to the schema
field it came from (``schemas/<department>/<event>.avsc``) and cut by that field's
``sharing`` class and ``personal`` flag, per the role table below (pure, stdlib + the
registry's already loaded policies; no I/O):

============  =============================  ==================  ===================
role          sharing classes seen           resident ID number  natural person name
============  =============================  ==================  ===================
applicant     unconditional (own case only)  masked              masked (``张*``)
clerk         unconditional, conditional     masked              shown
supervisor    unconditional, conditional     shown (协查)         shown
auditor       unconditional, conditional     masked              shown
============  =============================  ==================  ===================

* ``none`` (不予共享) is shown to no desk role: such data stays with its department, and the
  desk is a consumer of the exchange like any other. The auditor audits the trace (who read
  what, :meth:`DeskService.audit`), not the content, so sees what a clerk sees.
* A withheld value becomes ``None`` with a ``masked`` marker beside it (``"withheld"``); a
  partly masked one keeps its shape (``510104********123X``) with ``masked: "partial"``.
* Tracing: ``fields``/``claims``/``conflicts`` entries name their ``event_id``; the record's
  ``history`` gives its event type and :data:`exchange.merge.catalogue.FIELD_MAP` the body
  field. Collection entries carry their ``event_id`` too; a key that cannot be traced takes
  the strictest policy of every schema field with that name, and a value that cannot be traced
  at all is withheld. Derived summaries take the strictest policy of their sources
  (:data:`DERIVED_FROM`). A last pass masks anything shaped like a valid resident ID.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from exchange.errors import ExchangeError, InvalidIdentifier
from exchange.identifiers import mask_resident_id, validate_resident_id
from exchange.merge.catalogue import FIELD_MAP
from exchange.schema_fields import FieldPolicy

Role = Literal["applicant", "clerk", "supervisor", "auditor"]
WITHHELD = "withheld"
PARTIAL = "partial"
_RANK = {"unconditional": 0, "conditional": 1, "none": 2}
_ID_SHAPE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


@dataclass(frozen=True, slots=True)
class Entitlement:
    """What one role may see: sharing classes, resident IDs and names in full or not."""

    sharing: frozenset[str]
    full_ids: bool
    full_names: bool
    own_cases_only: bool


ENTITLEMENTS: Mapping[str, Entitlement] = {
    "applicant": Entitlement(frozenset({"unconditional"}), False, False, True),
    "clerk": Entitlement(frozenset({"unconditional", "conditional"}), False, True, False),
    "supervisor": Entitlement(frozenset({"unconditional", "conditional"}), True, True, False),
    "auditor": Entitlement(frozenset({"unconditional", "conditional"}), False, True, False),
}
ROLES: tuple[str, ...] = tuple(ENTITLEMENTS)

#: Derived record sections -> the schema fields (event type, path) they are computed from.
DERIVED_FROM: Mapping[str, tuple[tuple[str, str], ...]] = {
    "taxes": (("tax.property_tax_assessed", "total_due"), ("tax.property_tax_paid", "amount_paid")),
}
#: Record sections that are bus metadata (event types, ids, times, counts): unconditional.
METADATA = frozenset({"kind", "key", "facts", "completeness", "history", "status", "lifecycle",
                      "encumbrances"})
_UNTRACED = FieldPolicy("?", "none", True, None, True, "value of unknown origin")


class UnknownRole(ExchangeError):
    """A role outside :data:`ROLES` (the web layer answers 403)."""

    def __init__(self, role: object) -> None:
        self.role = role
        super().__init__(f"unknown role {role!r}; known: {', '.join(ROLES)}")


class PolicySource(Protocol):
    """What privacy needs of :class:`exchange.schemas.SchemaRegistry`."""

    def event_types(self, department: str | None = None) -> list[str]: ...

    def field_policies(self, event_type: str) -> Mapping[str, FieldPolicy]: ...


def entitlement(role: str) -> Entitlement:
    """The role's entitlement; :class:`UnknownRole` for anything else."""
    try:
        return ENTITLEMENTS[role]
    except (KeyError, TypeError):
        raise UnknownRole(role) from None


def strictest(policies: list[FieldPolicy]) -> FieldPolicy:
    """One policy at least as strict as each given one (``_UNTRACED`` for none given)."""
    if not policies:
        return _UNTRACED
    top = max(policies, key=lambda p: _RANK[p.sharing])
    ident = "resident_id" if any(p.identifier == "resident_id" for p in policies) else None
    return FieldPolicy(top.path, top.sharing, any(p.personal for p in policies),
                       ident, True, top.doc)  # type: ignore[arg-type]


class _Index:
    """Policies of a registry arranged for lookup: per event type, per leaf name, per event."""

    def __init__(self, registry: PolicySource) -> None:
        self.by_event = {et: dict(registry.field_policies(et)) for et in registry.event_types()}
        leaves: dict[str, list[FieldPolicy]] = {}
        for policies in self.by_event.values():
            for path, policy in policies.items():
                leaves.setdefault(re.split(r"[.\[\]{}]+", path.rstrip("[]{}"))[-1], []).append(
                    policy)
        self.by_leaf = {leaf: strictest(ps) for leaf, ps in leaves.items()}
        self.whole_event = {
            et: strictest([p for path, p in ps.items() if not path.startswith("envelope")])
            for et, ps in self.by_event.items()
        }

    def attribute(self, event_type: str | None, attr: str) -> tuple[FieldPolicy, str]:
        """Policy and body path of a record attribute reported by ``event_type``."""
        if event_type is None or event_type not in self.by_event:
            return _UNTRACED, attr
        for body_field, mapped in FIELD_MAP.get(event_type, {}).items():
            if mapped == attr and body_field in self.by_event[event_type]:
                return self.by_event[event_type][body_field], body_field
        return self.whole_event[event_type], attr


_CACHE: dict[int, tuple[PolicySource, _Index]] = {}


def _index(registry: PolicySource) -> _Index:
    hit = _CACHE.get(id(registry))
    if hit is None or hit[0] is not registry:
        hit = (registry, _Index(registry))
        _CACHE[id(registry)] = hit
    return hit[1]


def mask_name(value: str) -> str:
    """A natural person's name with all but its first character hidden (``张三丰`` -> ``张**``)."""
    return value[:1] + "*" * (len(value) - 1) if value else value


def scrub_text(text: str, role: str | None = None) -> str:
    """Mask every valid resident ID inside ``text`` unless ``role`` may see IDs in full.

    Used on anything that leaves the server as free text: error messages, log lines.
    """
    if role is not None and entitlement(role).full_ids:
        return text

    def repl(m: re.Match[str]) -> str:
        try:
            validate_resident_id(m.group(0))
        except InvalidIdentifier:
            return m.group(0)
        return mask_resident_id(m.group(0).upper())

    return _ID_SHAPE.sub(repl, text)


def scrub_value(value: Any, role: str) -> Any:
    """Mask resident-ID-shaped strings anywhere in a JSON-able value (the last pass applied to
    everything a role receives: case timelines, notices, records)."""
    return _scrub(value, entitlement(role))


def _scrub(value: Any, ent: Entitlement) -> Any:
    if ent.full_ids:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v, ent) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, ent) for v in value]
    return value


def _visible(policy: FieldPolicy, ent: Entitlement) -> bool:
    return policy.sharing in ent.sharing


def _cut(value: Any, policy: FieldPolicy, ent: Entitlement) -> tuple[Any, str | None]:
    """The value as the role may see it, and the marker (``None`` when shown in full)."""
    if value is None:
        return None, None
    if not _visible(policy, ent):
        return None, WITHHELD
    if policy.identifier == "resident_id" and not ent.full_ids:
        if isinstance(value, str):
            return mask_resident_id(value), PARTIAL
        return None, WITHHELD
    if policy.personal and policy.identifier is None and not ent.full_names:
        if isinstance(value, str):
            return mask_name(value), PARTIAL
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [mask_name(v) for v in value], PARTIAL
    return value, None


def _value(value: Any, path: str, policies: Mapping[str, FieldPolicy],
           inherited: FieldPolicy, ent: Entitlement) -> Any:
    """Mask a (possibly nested) body value whose schema path is ``path``."""
    policy = policies.get(path, inherited)
    if isinstance(value, dict):
        if not _visible(policy, ent):
            return None
        return {k: _value(v, f"{path}.{k}", policies, policy, ent) for k, v in value.items()}
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        if not _visible(policy, ent):
            return None
        return [_value(v, f"{path}[]", policies, policy, ent) for v in value]
    return _cut(value, policy, ent)[0]


def _entry(entry: Mapping[str, Any], policy: FieldPolicy, path: str,
           policies: Mapping[str, FieldPolicy], ent: Entitlement) -> dict[str, Any]:
    """A ``{"value", "department", "event_id", ...}`` entry with its value cut."""
    out = dict(entry)
    value = entry.get("value")
    if isinstance(value, dict | list) and any(isinstance(v, dict) for v in
                                               (value if isinstance(value, list) else [value])):
        out["value"] = _value(value, path, policies, policy, ent)
        marker = None if _visible(policy, ent) else WITHHELD
    else:
        out["value"], marker = _cut(value, policy, ent)
    if marker:
        out["masked"] = marker
    return out


def _walk(node: Any, key: str, idx: _Index, events: Mapping[str, str], ent: Entitlement) -> Any:
    """Mask a collection (or any untraced section) by event ids inside it, else by key name."""
    if isinstance(node, list):
        return [_walk(v, key, idx, events, ent) for v in node]
    if not isinstance(node, dict):
        policy = idx.by_leaf.get(key)
        return node if policy is None else _cut(node, policy, ent)[0]
    event_type = events.get(str(node.get("event_id")))
    policies = idx.by_event.get(event_type or "", {})
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k in policies:
            out[k] = _value(v, k, policies, policies[k], ent)
        elif isinstance(v, dict | list):
            out[k] = _walk(v, k, idx, events, ent)
        elif k in idx.by_leaf:
            out[k] = _cut(v, idx.by_leaf[k], ent)[0]
        else:
            out[k] = v  # bookkeeping of the merge (state, owned, counts): no schema field
    return out


def mask_record(record: Mapping[str, Any], role: str, registry: PolicySource) -> dict[str, Any]:
    """A copy of a unified record cut for ``role`` (the input is never modified)."""
    ent, idx = entitlement(role), _index(registry)
    events = {h["event_id"]: h["event_type"] for h in record.get("history", [])}
    out: dict[str, Any] = {}
    for section, body in record.items():
        if section in METADATA:
            out[section] = body
        elif section == "fields":
            out[section] = {}
            for attr, entry in body.items():
                et = events.get(entry.get("event_id"))
                policy, path = idx.attribute(et, attr)
                out[section][attr] = _entry(entry, policy, path,
                                            idx.by_event.get(et or "", {}), ent)
        elif section == "claims":
            out[section] = {
                attr: {dept: _entry(c, *idx.attribute(events.get(c.get("event_id")), attr),
                                    idx.by_event.get(events.get(c.get("event_id")) or "", {}),
                                    ent)
                       for dept, c in by_dept.items()}
                for attr, by_dept in body.items()
            }
        elif section == "conflicts":
            out[section] = [
                {**c, "values": [
                    _entry(v, *idx.attribute(events.get(v.get("event_id")), c["attribute"]),
                           idx.by_event.get(events.get(v.get("event_id")) or "", {}), ent)
                    for v in c.get("values", [])]}
                for c in body
            ]
        elif section in DERIVED_FROM:
            sources = [idx.by_event.get(et, {}).get(p, _UNTRACED) for et, p in
                       DERIVED_FROM[section]]
            out[section] = body if _visible(strictest(sources), ent) else None
        else:
            out[section] = _walk(body, section, idx, events, ent)
    return dict(_scrub(out, ent))


def mask_form(form: Mapping[str, Any], role: str, registry: PolicySource) -> dict[str, Any]:
    """A copy of a case form cut for ``role``: each form field takes the strictest policy of
    the schema fields of the same name (the legal representative's ID is the market
    registry's ``legal_representative_id``); fields no schema names are the applicant's own
    free text (address, pending name) and are shown."""
    ent, idx = entitlement(role), _index(registry)
    out: dict[str, Any] = {}
    for name, value in form.items():
        policy = idx.by_leaf.get(name)
        if policy is None or isinstance(value, bool | int | float):
            out[name] = value
        elif isinstance(value, dict | list):
            out[name] = _walk(value, name, idx, {}, ent)
        else:
            out[name] = _cut(value, policy, ent)[0]
    return dict(_scrub(out, ent))
