"""Collect once, fan out (一次录入、自动分发): the desk publishes each accepted one form once.

:func:`application_record` turns the service's application event (the form as accepted) into
a ``desk.application_submitted`` record; :class:`ApplicationPublisher` is the service's
``application_sink``: it publishes that record on the desk's own topic through a
:class:`~producers.publisher.DepartmentPublisher` bound to the ``desk`` department, keyed by
the case id (never by an ID number), and waits for the broker's acknowledgement.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consumers.desk.domain import parse_form
from consumers.desk.domain.forms import DeregistrationForm, StartupForm, TransferForm
from consumers.desk.service import APPLICATION_EVENT
from exchange.schemas import SchemaRegistry
from exchange.settings import Settings

log = logging.getLogger(__name__)


def application_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The Avro record of an application event from :func:`consumers.desk.service.
    application_event` (the form is parsed again: the values published are the validated,
    canonical ones)."""
    form = parse_form(event["form"])
    submitted_at = datetime.fromisoformat(str(event["submitted_at"]))
    case_id = str(event["case_id"])
    record: dict[str, Any] = {
        "envelope": {"event_id": str(event["event_id"]), "department": "DESK",
                     "occurred_at": submitted_at, "key": case_id, "trace_id": case_id},
        "case_id": case_id,
        "case_type": form.case_type.upper(),
        "profile": str(event["profile"]),
        "submitted_at": submitted_at,
        "submitted_by": str(event.get("submitted_by") or ""),
        "credit_code": None, "pending_name": None, "legal_representative_name": None,
        "legal_representative_id": None, "address": None, "bundle": [],
        "unit_number": None, "registration_type": None, "applicant_name": None,
        "contract_signed_on": None, "simplified": False,
        "missing_items": [{"item": m.item, "promise": m.promise} for m in form.missing_items],
    }
    if isinstance(form, StartupForm):
        record.update(credit_code=form.credit_code, pending_name=form.pending_name,
                      legal_representative_name=form.legal_representative_name,
                      legal_representative_id=form.legal_representative_id,
                      address=form.address, bundle=sorted(b.upper() for b in form.bundle))
    elif isinstance(form, TransferForm):
        record.update(unit_number=form.unit_number, registration_type=form.registration_type,
                      applicant_name=form.applicant_name,
                      contract_signed_on=form.contract_signed_on)
    elif isinstance(form, DeregistrationForm):
        record.update(credit_code=form.credit_code, simplified=form.simplified)
    return record


class ApplicationPublisher:
    """The desk's ``application_sink``: one acknowledged ``desk.application_submitted`` per
    accepted case. Thread-safe (the web server calls it from its worker threads)."""

    def __init__(self, settings: Settings, *, registry: SchemaRegistry | None = None,
                 flush_timeout: float = 30.0) -> None:
        from producers.publisher import DepartmentPublisher

        self._publisher = DepartmentPublisher(settings, "desk", registry=registry)
        self._lock = threading.Lock()
        self.flush_timeout = flush_timeout
        self.published = 0
        self.failed = 0

    def __call__(self, event: dict[str, Any]) -> None:
        """Publish one application and wait until the broker confirmed it.

        The case is already committed when this runs, so a failure is logged (case id only)
        and counted in ``failed``, not raised: a page error would make the clerk submit the
        form again and open a second case. (An outbox table would make it retryable.)
        """
        if event.get("event_type") != APPLICATION_EVENT:
            raise ValueError(f"not an application event: {event.get('event_type')!r}")
        record = application_record(event)
        with self._lock:
            try:
                self._publisher.publish(APPLICATION_EVENT, record)
                self._publisher.flush(self.flush_timeout)
            except Exception:
                self.failed += 1
                log.exception("desk: application of case %s not published", record["case_id"])
                return
            self.published += 1

    def close(self) -> None:
        """Flush and close the producer."""
        with self._lock:
            self._publisher.close()
