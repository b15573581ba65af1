"""The project's own error types.

Library errors (fastavro, kafka-python, aiokafka) are translated into these at the boundary,
each with a message a person can act on: what was wrong and where.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidIdentifier(ExchangeError):
    """An identifier (credit code, unit number, resident ID) breaks its standard."""

    def __init__(self, kind: str, value_hint: str, rule: str) -> None:
        self.kind = kind
        self.rule = rule
        # value_hint is already masked by the caller where the value is personal data.
        super().__init__(f"invalid {kind} {value_hint}: {rule}")


class SchemaError(ExchangeError):
    """A schema is missing, malformed, or incompatible with an earlier version."""


class UnknownSchema(SchemaError):
    """A message names a writer schema (fingerprint or event type) this reader does not know."""


class ValidationError(ExchangeError):
    """An event does not conform to its schema or the rules of its fields."""

    def __init__(self, event_type: str, field: str, rule: str) -> None:
        self.event_type = event_type
        self.field = field
        self.rule = rule
        super().__init__(f"{event_type}: field '{field}': {rule}")


class DecodeError(ExchangeError):
    """Bytes on a topic could not be decoded as a department event."""


class PublishError(ExchangeError):
    """The broker did not confirm delivery of an event."""
