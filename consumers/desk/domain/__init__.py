"""The desk domain: pure cases, rules and working time. No I/O, no framework imports.

Layers above call :func:`parse_form`, :func:`accept`, :func:`advance`, :func:`next_deadline`,
:func:`supply_item`, :func:`file_complaint`, :func:`resolve_complaint`, :func:`rate` and
:func:`restore`; every one returns the :class:`CaseEvent` timeline entries it added.
"""

from consumers.desk.domain.case import Case, StepState
from consumers.desk.domain.complaints import file_complaint, resolve_complaint
from consumers.desk.domain.deadlines import DEFAULT_CONFIG, DeskConfig, WarningPolicy
from consumers.desk.domain.errors import (
    CaseStateError,
    DeskError,
    InvalidForm,
    RecordMismatch,
    UnknownProfile,
)
from consumers.desk.domain.events import CaseEvent, Kind
from consumers.desk.domain.forms import (
    DeregistrationForm,
    Form,
    StartupForm,
    TransferForm,
    parse_form,
)
from consumers.desk.domain.handlers import (
    accept,
    advance,
    make_plan,
    matches,
    next_deadline,
    restore,
    supply_item,
    time_left,
)
from consumers.desk.domain.limits import TimeLimit
from consumers.desk.domain.ratings import Rating, parse_rating, rate
from consumers.desk.domain.workdays import (
    CHINA_TZ,
    CalendarOutOfRange,
    CalendarSupplement,
    OfficialCalendar,
    add_working_time,
    working_time_between,
)

__all__ = [
    "CHINA_TZ",
    "DEFAULT_CONFIG",
    "CalendarOutOfRange",
    "CalendarSupplement",
    "Case",
    "CaseEvent",
    "CaseStateError",
    "DeregistrationForm",
    "DeskConfig",
    "DeskError",
    "Form",
    "InvalidForm",
    "Kind",
    "OfficialCalendar",
    "Rating",
    "RecordMismatch",
    "StartupForm",
    "StepState",
    "TimeLimit",
    "TransferForm",
    "UnknownProfile",
    "WarningPolicy",
    "accept",
    "add_working_time",
    "advance",
    "file_complaint",
    "make_plan",
    "matches",
    "next_deadline",
    "parse_form",
    "parse_rating",
    "rate",
    "resolve_complaint",
    "restore",
    "supply_item",
    "time_left",
    "working_time_between",
]
