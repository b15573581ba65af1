"""Errors of the desk domain, each naming what was wrong and the rule it broke."""

from __future__ import annotations

from exchange.errors import ExchangeError


class DeskError(ExchangeError):
    """Base of the desk domain's deliberate errors."""


class InvalidForm(DeskError):
    """The one form breaks a rule; ``field`` is the form field (dotted for nested ones)."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"field '{field}': {rule}")


class UnknownProfile(DeskError):
    """A locality profile name that is not configured."""

    def __init__(self, case_type: str, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"no {case_type} profile {name!r}; configured: {', '.join(known)}")


class RecordMismatch(DeskError):
    """A unified record given to a case is about another enterprise or property."""


class CaseStateError(DeskError):
    """An action the case's state does not allow (rating an open case, rating twice...)."""
