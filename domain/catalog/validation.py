"""Input checks shared by the catalog services. Each returns the cleaned value or raises InvalidInput
naming the field."""

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Final

from domain.errors import InvalidInput

INT64_MAX: Final = 2**63 - 1
_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_EVENT_RE = re.compile(r"[A-Za-z0-9_.-]+")
_CURRENCY_RE = re.compile(r"[a-z]{3}")
_SLUG_SEPARATORS = re.compile(r"[^a-z0-9]+")


class Unset(Enum):
    """Marks an update argument the caller did not send (distinct from an explicit null)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


def name(value: object, field: str = "name", max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required", field=field)
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return value


def text(value: object, field: str, max_length: int = 10_000) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return value


def optional_text(value: object, field: str, max_length: int = 200) -> str | None:
    if value is None or value == "":
        return None
    return text(value, field, max_length)


def key(value: object, field: str = "key") -> str:
    if not isinstance(value, str) or not _KEY_RE.fullmatch(value) or len(value) > 200:
        raise InvalidInput(f"{field} must be 1-200 letters, digits, '-' or '_' (got {value!r})", field=field)
    return value


def slugify(value: str) -> str:
    """The default flag key of a feature: its name, lower-cased, runs of other characters as '-'."""
    return _SLUG_SEPARATORS.sub("-", value.lower()).strip("-")[:200].rstrip("-")


def event_name(value: object, field: str = "event_subtype") -> str:
    if not isinstance(value, str) or not _EVENT_RE.fullmatch(value) or len(value) > 200:
        raise InvalidInput(
            f"{field} must be 1-200 letters, digits, '-', '_' or '.' (got {value!r})", field=field
        )
    return value


def choice(value: object, choices: Iterable[str], field: str) -> str:
    options = tuple(choices)
    if value not in options:
        raise InvalidInput(f"{field} must be one of {', '.join(options)} (got {value!r})", field=field)
    return str(value)


def integer(value: object, field: str, *, minimum: int | None = None, maximum: int = INT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer", field=field)
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{field} must be at least {minimum}", field=field)
    if value > maximum or value < -INT64_MAX - 1:
        raise InvalidInput(f"{field} must be at most {maximum}", field=field)
    return value


def optional_integer(value: object, field: str, *, minimum: int | None = None, maximum: int = INT64_MAX) -> int | None:
    return None if value is None else integer(value, field, minimum=minimum, maximum=maximum)


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field)
    return value


def positive_decimal(value: object, field: str) -> str:
    """A rate such as credits per unit, as a canonical decimal string. Floats are refused: they cannot
    carry an exact decimal."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidInput(f"{field} must be a decimal string such as \"0.5\"", field=field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(f"{field} is not a decimal number: {value!r}", field=field) from None
    if not number.is_finite() or number <= 0:
        raise InvalidInput(f"{field} must be a number greater than 0", field=field)
    if len(str(number)) > 40:
        raise InvalidInput(f"{field} has too many digits", field=field)
    return format(number.normalize(), "f")


def currency(value: object, field: str = "currency") -> str:
    if not isinstance(value, str) or not _CURRENCY_RE.fullmatch(value.lower()):
        raise InvalidInput(f"{field} must be a three-letter ISO currency code", field=field)
    return value.lower()


def ref_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 40:
        raise InvalidInput(f"{field} must be an id", field=field)
    return value


def id_list(values: object, field: str) -> list[str]:
    if not isinstance(values, list | tuple):
        raise InvalidInput(f"{field} must be a list of ids", field=field)
    return list(dict.fromkeys(ref_id(v, field) for v in values))
