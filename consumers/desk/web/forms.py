"""The window page's HTML form, turned into the one form the service validates.

The page posts ``application/x-www-form-urlencoded``; it is parsed here with the standard
library (no multipart dependency) and shaped like the JSON the API takes, so both channels
hit the same :func:`consumers.desk.domain.parse_form` rules.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

#: Fields of each case type's HTML form (the rest of a post is ignored).
FIELDS: dict[str, tuple[str, ...]] = {
    "startup": ("credit_code", "pending_name", "legal_representative_name",
                "legal_representative_id", "address"),
    "transfer": ("unit_number", "registration_type", "applicant_name", "contract_signed_on"),
    "deregistration": ("credit_code",),
}
#: Fields never written back into a re-displayed form (personal data stays on the server).
NOT_ECHOED = frozenset({"legal_representative_id"})
MAX_BODY = 64 * 1024


class BodyTooLarge(ValueError):
    """A posted form over :data:`MAX_BODY` bytes."""


def parse_post(body: bytes) -> dict[str, list[str]]:
    """The url-encoded body as lists of values (a checkbox group repeats its name)."""
    if len(body) > MAX_BODY:
        raise BodyTooLarge(f"form larger than {MAX_BODY} bytes")
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def to_form(post: dict[str, list[str]]) -> tuple[dict[str, Any], str]:
    """The one-form dict and the locality profile chosen on the page."""
    case_type = (post.get("case_type") or [""])[0]
    form: dict[str, Any] = {"case_type": case_type}
    for name in FIELDS.get(case_type, ()):
        value = (post.get(name) or [""])[0].strip()
        if value:
            form[name] = value
    if case_type == "startup":
        form["bundle"] = [v for v in post.get("bundle", []) if v]
    if case_type == "deregistration":
        form["simplified"] = (post.get("simplified") or [""])[0] in ("on", "true", "1")
    missing = [v.strip() for v in (post.get("missing_items") or [""])[0].split(",") if v.strip()]
    if missing:
        form["missing_items"] = missing
    profile = (post.get("profile") or ["default"])[0] or "default"
    return form, profile


def echo(post: dict[str, list[str]]) -> dict[str, Any]:
    """Values to write back into the form after an error (never a resident ID)."""
    values: dict[str, Any] = {k: v[0] for k, v in post.items() if v and k not in NOT_ECHOED}
    values["bundle"] = post.get("bundle", [])
    return values
