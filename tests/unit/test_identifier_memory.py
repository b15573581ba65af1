"""What the decoded-record checks remember of the identifiers they accepted."""

from __future__ import annotations

import pytest

from exchange import codec_rules

pytestmark = pytest.mark.unit


def _kept(check: codec_rules.Check) -> list[set[str]]:
    """The identifiers a compiled check holds on to between calls: in a set of its own, or
    in the memory of the validator it calls (``identifiers._remember_valid``)."""
    kept: list[set[str]] = []
    for cell in check.__closure__ or ():
        content = cell.cell_contents
        if isinstance(content, set):
            kept.append(content)
        elif callable(content):
            kept.extend({key[0] for key in inner.cell_contents}
                        for inner in getattr(content, "__closure__", None) or ()
                        if isinstance(inner.cell_contents, dict))
    return kept


def test_resident_ids_are_checked_every_time_and_never_remembered() -> None:
    check = codec_rules._identifier("resident_id")
    check("11010519491231002X")
    assert not any("11010519491231002X" in kept for kept in _kept(check))
    with pytest.raises(codec_rules.Invalid, match="position 18"):
        check("110105194912310021")  # a wrong check character still fails


def test_credit_codes_are_remembered_once_accepted() -> None:
    # The cache the personal numbers are kept out of (and what the test above would see).
    check = codec_rules._identifier("credit_code")
    check("91350100M000100Y43")
    assert any("91350100M000100Y43" in kept for kept in _kept(check))
