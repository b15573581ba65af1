"""The three identifiers of the bus: credit codes, property unit numbers, resident ID numbers.

Pure functions, stdlib only. Each ``validate_*`` returns the canonical form of a valid value
and raises :class:`~exchange.errors.InvalidIdentifier` naming the first rule broken: wrong
length, a character outside the alphabet (with its 1-based position), or which check failed
(expected vs got).

Choices where the standards leave room (documented here once):

* **Case.** Lower-case letters are normalised to upper case by default: the returned value is
  the canonical one and is what callers must use as a Kafka key. ``strict=True`` rejects them
  instead (a producer contract test wants to know that its system emits lower case).
  Whitespace is never stripped: ``" 9135..."`` fails the length or alphabet rule.
* **Credit code (GB 32100-2015).** Positions 1-2 (registration authority, entity type) may be
  any symbol of the 31-symbol alphabet: authorities keep adding codes (``A``, ``N`` ...), so the
  table is not enforced. Positions 3-8 (GB/T 2260 region) must be digits. Positions 9-17 are a
  GB 11714 organisation code whose 9th character is its own MOD-11 check (``X`` for 10, ``0``
  for 11). Inside a credit code the organisation code uses the credit-code alphabet, so
  ``I O S V Z`` cannot occur in it. Both checks are verified, organisation check first.
  The MOD-31 final check detects every single-character substitution (31 is prime, every
  weight is non-zero) and every transposition of two characters except one: positions 1 and
  18 both carry weight 1, so swapping them is invisible to it (the organisation check does
  not cover either position).
* **Unit number (GB/T 37346-2019).** county (6 digits) + cadastral district (3) + sub-district
  (3) + parcel feature code (ownership ``G`` state / ``J`` collective / ``Z`` undetermined, then
  a land-use-right letter, see :data:`PARCEL_RIGHT_LETTERS`) + parcel sequence (5 digits, not
  ``00000``) + structure feature code (``F`` building, ``L`` forest, ``Q`` other, ``W`` none) +
  8 digits (building 4 + unit 4; all ``0`` when the code is ``W``). The standard has no check
  character, so a changed digit cannot be detected.
* **Resident ID (GB 11643-1999).** 17 digits + ISO 7064 MOD 11-2 check (``X`` for 10); the
  birth date (positions 7-14) must exist, be on or after 1800-01-01 (the standard's own
  example ``440524188001010014`` was born in 1880) and not after ``today``.
  The value is personal data: errors carry only :func:`mask_resident_id`.
* **Case id** (the desk's own, not a standard): ``<2 letters>-<YYYYMMDD>-<12 hex digits>``,
  e.g. ``ST-20240301-0123456789ab``; the key of the desk's application events, so that a
  case is never keyed by a personal identifier.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from datetime import date
from operator import mul

from exchange.errors import InvalidIdentifier

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 symbols of GB 32100 (``0-9A-Y`` without ``I O S V Z``); index = value."""
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_ALPHABET)}
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_DIGITS = frozenset("0123456789")
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK = "10X98765432"  # index = weighted sum mod 11
_ID_ZERO = ord("0") * sum(_ID_WEIGHTS)  # what the digits' byte values add to their sum
_EARLIEST_BIRTH = date(1800, 1, 1)
_LOADED_ON = date.today()

PARCEL_OWNERSHIP_LETTERS = "GJZ"
PARCEL_RIGHT_LETTERS = "ABSXCDEFLNHGWY"
"""Second letter of the parcel feature code: A collective ownership, B/S/X construction land
(surface/above/below), C homestead, D contracted farmland, E/L forest, F grassland, N other
agricultural, H sea area, G uninhabited island, W undetermined, Y other."""
STRUCTURE_LETTERS = "FLQW"


_VALID_MEMORY = 200_000  # codes remembered per validator (an enterprise's code recurs a lot)


def _remember_valid(validate: Callable[..., str]) -> Callable[..., str]:
    """Remember the codes ``validate`` accepted: the same credit code or unit number comes
    with every event about it, and the worker checks each event again. Refusals are not
    remembered (they raise, with the rule that failed, every time). Not used for resident
    IDs: personal numbers are not kept beyond the message that carries them. The only
    memory of accepted identifiers (the codec's checks call the validators as they are)."""
    accepted: dict[tuple[str, bool], str] = {}

    @functools.wraps(validate)
    def wrapper(value: str, *, strict: bool = False) -> str:
        key = (value, strict)
        code = accepted.get(key) if isinstance(value, str) else None
        if code is None:
            code = validate(value, strict=strict)
            if len(accepted) >= _VALID_MEMORY:
                accepted.clear()
            accepted[key] = code
        return code

    return wrapper


def _fail(kind: str, hint: str, rule: str) -> InvalidIdentifier:
    return InvalidIdentifier(kind, hint, rule)


def _canonical(kind: str, value: object, length: int, hint: str, strict: bool) -> str:
    if not isinstance(value, str):
        raise _fail(kind, "<non-string>", f"must be a string, got {type(value).__name__}")
    if len(value) != length:
        raise _fail(kind, hint, f"wrong length: got {len(value)} characters, need {length}")
    # Every event's identifiers are checked, so the common case goes first: ASCII already in
    # upper case (str methods, no loop); the loop only finds what to report.
    if strict and not (value.isascii() and value == value.upper()):
        for pos, ch in enumerate(value, 1):
            if ch != ch.upper():
                raise _fail(kind, hint, f"lower-case letter {ch!r} at position {pos}")
    return value.upper()


def mask_resident_id(value: str) -> str:
    """Mask a resident ID for logs and errors: region (6) and last 4 kept, the rest ``*``.

    ``510104199001011234`` -> ``510104********1234``. Values too short to hide a birth date
    (fewer than 14 characters) are masked completely.
    """
    if len(value) < 14:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def organisation_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body (0-9, A-Z)."""
    total = sum(int(ch, 36) * w for ch, w in zip(body, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def credit_check(first17: str) -> str:
    """GB 32100 final check character of the first 17 characters of a credit code."""
    total = sum(_CREDIT_VALUE[ch] * w for ch, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def resident_id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID.

    Raises ``ValueError`` unless ``first17`` is 17 ASCII digits. Summed over the digits'
    byte values (each ``ord("0")`` more than the digit), a third of the cost of ``int`` per
    digit: personal numbers are not remembered, so each one is checked every time."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"expected 17 ASCII digits, got {len(first17)} characters")
    return _id_check_of_digits(first17)


def _id_check_of_digits(first17: str) -> str:
    """:func:`resident_id_check` of what is known to be 17 ASCII digits."""
    return _ID_CHECK[(sum(map(mul, first17.encode(), _ID_WEIGHTS)) - _ID_ZERO) % 11]


@_remember_valid
def validate_credit_code(value: str, *, strict: bool = False) -> str:
    """Return the canonical credit code or raise :class:`InvalidIdentifier` (GB 32100-2015)."""
    kind = "credit code"
    code = _canonical(kind, value, 18, repr(value), strict)
    for pos, ch in enumerate(code, 1):
        if ch not in _CREDIT_VALUE:
            raise _fail(
                kind,
                repr(value),
                f"character {ch!r} at position {pos} is outside "
                "the alphabet 0-9A-Y without I, O, S, V, Z",
            )
        if 3 <= pos <= 8 and ch not in _DIGITS:
            raise _fail(
                kind,
                repr(value),
                f"character {ch!r} at position {pos} must be a "
                "digit (positions 3-8 are the GB/T 2260 region code)",
            )
    expected = organisation_check(code[8:16])
    if code[16] != expected:
        raise _fail(
            kind,
            repr(value),
            "organisation-code check (GB 11714) at position 17 "
            f"failed: expected {expected!r}, got {code[16]!r}",
        )
    expected = credit_check(code[:17])
    if code[17] != expected:
        raise _fail(
            kind,
            repr(value),
            "final check (GB 32100 MOD 31) at position 18 "
            f"failed: expected {expected!r}, got {code[17]!r}",
        )
    return code


_CASE_ID = re.compile(r"[A-Z]{2}-(?P<day>[0-9]{8})-[0-9a-f]{12}")


@_remember_valid
def validate_case_id(value: str, *, strict: bool = False) -> str:
    """Return a desk case id unchanged or raise :class:`InvalidIdentifier` (no normalising:
    ``strict`` is accepted for the common signature)."""
    kind = "case id"
    if not isinstance(value, str):
        raise _fail(kind, "<non-string>", f"must be a string, got {type(value).__name__}")
    match = _CASE_ID.fullmatch(value)
    if match is None:
        raise _fail(kind, repr(value[:40]), "must look like ST-20240301-0123456789ab "
                    "(2 capital letters, the day, 12 lower-case hex digits)")
    try:
        date(int(match["day"][:4]), int(match["day"][4:6]), int(match["day"][6:]))
    except ValueError:
        raise _fail(kind, repr(value), f"no such day {match['day']}") from None
    return value


@_remember_valid
def validate_unit_number(value: str, *, strict: bool = False) -> str:
    """Return the canonical property unit number or raise :class:`InvalidIdentifier`."""
    kind = "unit number"
    code = _canonical(kind, value, 28, repr(value), strict)

    def need(pos: int, allowed: str | frozenset[str], what: str) -> None:
        ch = code[pos - 1]
        if ch not in allowed:
            raise _fail(kind, repr(value), f"character {ch!r} at position {pos} must be {what}")

    for pos in range(1, 13):
        need(
            pos,
            _DIGITS,
            "a digit (positions 1-12: county code, cadastral district and sub-district)",
        )
    need(13, PARCEL_OWNERSHIP_LETTERS, "a parcel ownership letter G, J or Z")
    need(14, PARCEL_RIGHT_LETTERS, f"a parcel right letter ({', '.join(PARCEL_RIGHT_LETTERS)})")
    for pos in range(15, 20):
        need(pos, _DIGITS, "a digit (positions 15-19: parcel sequence)")
    if code[14:19] == "00000":
        raise _fail(
            kind,
            repr(value),
            "parcel sequence at positions 15-19 is 00000, sequences start at 00001",
        )
    need(20, STRUCTURE_LETTERS, "a structure letter F, L, Q or W")
    for pos in range(21, 29):
        need(pos, _DIGITS, "a digit (positions 21-28: building and unit)")
    if code[19] == "W" and code[20:] != "00000000":
        raise _fail(
            kind,
            repr(value),
            f"structure code W (no structure) must be followed by 00000000, got {code[20:]}",
        )
    return code


def _after_today(day: date, today: date | None) -> bool:
    """Whether ``day`` is after ``today`` (default: the current date).

    Asking for the current date costs as much as the rest of a resident ID's check, so a day
    up to the one this module was loaded on is past without asking (the clock moves on)."""
    if today is not None:
        return day > today
    return day > _LOADED_ON and day > date.today()


def validate_resident_id(value: str, *, today: date | None = None, strict: bool = False) -> str:
    """Return the canonical resident ID or raise :class:`InvalidIdentifier` (masked hint)."""
    kind = "resident ID"
    hint = mask_resident_id(value) if isinstance(value, str) else "<non-string>"
    code = _canonical(kind, value, 18, hint, strict)
    first17 = code[:17]
    if not (first17.isascii() and first17.isdigit()):  # the loop only finds what to report
        for pos, ch in enumerate(first17, 1):
            if ch not in _DIGITS:
                raise _fail(kind, hint, f"character at position {pos} must be a digit")
    if code[17] not in _DIGITS and code[17] != "X":
        raise _fail(kind, hint, "character at position 18 must be a digit or X")
    try:
        born = date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        raise _fail(kind, hint, "birth date at positions 7-14 is not a calendar date") from None
    if born < _EARLIEST_BIRTH or _after_today(born, today):
        raise _fail(kind, hint, "birth date at positions 7-14 is before 1800 or in the future")
    expected = _id_check_of_digits(first17)  # 17 ASCII digits: checked above
    if code[17] != expected:
        raise _fail(
            kind,
            hint,
            "check (ISO 7064 MOD 11-2) at position 18 failed: "
            f"expected {expected!r}, got {code[17]!r}",
        )
    return code


# --- generators: always valid values, and deliberately broken ones -------------------------

_ORG_BODY_SYMBOLS = CREDIT_ALPHABET[:30]  # no Y in the body keeps codes looking ordinary


def make_credit_code(
    rng: random.Random, region_code: str, *, authority: str = "9", entity_type: str = "1"
) -> str:
    """A valid credit code for ``region_code``; default authority 9 (market), type 1 (company).

    Most bodies follow the post-2015 pattern ``MA`` + 6 symbols; some are 8 digits (older
    organisation codes carried over).
    """
    if rng.random() < 0.7:
        body = "MA" + "".join(rng.choices(_ORG_BODY_SYMBOLS, k=6))
    else:
        body = "".join(rng.choices("0123456789", k=8))
    first17 = authority + entity_type + region_code + body + organisation_check(body)
    return first17 + credit_check(first17)


def make_unit_number(
    rng: random.Random, county_code: str, *, parcel: str = "GB", structure: str = "F"
) -> str:
    """A valid unit number in ``county_code``: default state-owned construction land, a flat."""
    district = f"{rng.randint(1, 30):03d}{rng.randint(1, 20):03d}"
    sequence = f"{rng.randint(1, 99999):05d}"
    tail = "00000000" if structure == "W" else f"{rng.randint(1, 40):04d}{rng.randint(1, 3200):04d}"
    return county_code + district + parcel + sequence + structure + tail


def make_resident_id(
    rng: random.Random, region_code: str, birth_date: date, *, male: bool | None = None
) -> str:
    """A valid resident ID; the sequence's last digit is odd for men, even for women."""
    seq = rng.randint(0, 99) * 10 + rng.randrange(0, 10)
    if male is not None and (seq % 2 == 1) != male:
        seq ^= 1
    first17 = f"{region_code}{birth_date:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check(first17)


def _other(current: str, symbols: str, rng: random.Random | None) -> str:
    choices = [s for s in symbols if s != current]
    return rng.choice(choices) if rng else choices[0]


def corrupt_credit_code_check(
    value: str, *, organisation: bool = False, rng: random.Random | None = None
) -> str:
    """``value`` with a wrong final check (position 18), or a wrong organisation check (17).

    With ``organisation=True`` the final check is recomputed so only the organisation check
    fails: the case of a registry that derived its code from a mistyped organisation code.
    """
    if not organisation:
        return value[:17] + _other(value[17], CREDIT_ALPHABET, rng)
    first17 = value[:16] + _other(value[16], "0123456789X", rng)
    return first17 + credit_check(first17)


def corrupt_resident_id_check(value: str, *, rng: random.Random | None = None) -> str:
    """``value`` with a wrong MOD 11-2 check character."""
    return value[:17] + _other(value[17], "0123456789X", rng)


def corrupt_unit_number(value: str, *, rng: random.Random | None = None) -> str:
    """``value`` with a structure letter outside F/L/Q/W (unit numbers carry no check)."""
    return value[:19] + _other(value[19], "ABCDEHKMNPRTUY", rng) + value[20:]
