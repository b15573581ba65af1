"""The pure merge core: department events folded into unified enterprise and property records.

Stdlib only (no faust, kafka, sqlalchemy, prometheus or fastavro). The rules are in
docs/design.md, "Merge rules".
"""

from .catalogue import (
    AUTHORITY,
    EXPECTED_FACTS,
    RecordMismatch,
    UnknownEventType,
    record_kind_for,
)
from .join import (
    Holding,
    OwnerLink,
    apply_owner_link,
    apply_owner_snapshot,
    owner_links,
    owner_snapshot,
    property_links_changed,
    snapshot_targets,
)
from .record import Record, merge, new_record

__all__ = [
    "AUTHORITY",
    "EXPECTED_FACTS",
    "Holding",
    "OwnerLink",
    "Record",
    "RecordMismatch",
    "UnknownEventType",
    "apply_owner_link",
    "apply_owner_snapshot",
    "merge",
    "new_record",
    "owner_links",
    "owner_snapshot",
    "property_links_changed",
    "record_kind_for",
    "snapshot_targets",
]
