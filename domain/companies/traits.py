"""Trait typing (product model §1.7, §2.6): inferring a type from a JSON value, coercing input into
the typed storage columns, and rendering stored values for the API and the rules engine. Pure."""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidInput

TRAIT_TYPES = ("string", "number", "boolean", "date", "url", "currency")
COMPARABLE_TYPES = {
    "boolean": "bool", "number": "int", "currency": "int", "date": "date", "string": "string", "url": "string",
}
_INT64 = 2**63 - 1
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class StoredTrait:
    value_text: str | None = None
    value_number: int | None = None
    value_bool: bool | None = None
    value_date: datetime | None = None


def infer_trait_type(value: object) -> str:
    """The type of a trait first seen with `value`: bool → boolean, int → number, anything else → string."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    return "string"


def comparable_type(trait_type: str) -> str:
    """How the rules engine compares a trait of this type (bool | int | date | string)."""
    return COMPARABLE_TYPES.get(trait_type, "string")


def _describe(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _invalid(name: str, trait_type: str, value: object, hint: str = "") -> InvalidInput:
    article = "an" if trait_type[0] in "aeiou" else "a"
    suffix = f" ({hint})" if hint else ""
    return InvalidInput(f"trait {name!r} is {article} {trait_type}; got {_describe(value)}{suffix}", field="traits")


def _to_int(trait_type: str, value: object, name: str) -> int:
    if isinstance(value, bool):
        raise _invalid(name, trait_type, value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise _invalid(name, trait_type, value, "must be a whole number")
        number = int(value)
    elif isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise _invalid(name, trait_type, value) from None
        if not parsed.is_finite() or parsed != parsed.to_integral_value():
            raise _invalid(name, trait_type, value, "must be a whole number")
        number = int(parsed)
    else:
        raise _invalid(name, trait_type, value)
    if abs(number) > _INT64:
        raise _invalid(name, trait_type, value, "out of the 64-bit integer range")
    return number


def _to_bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _invalid(name, "boolean", value, 'expected true, false, "true" or "false"')


def _to_date(value: object, name: str) -> datetime:
    hint = "expected an ISO date (2026-03-18) or an RFC 3339 timestamp with a timezone"
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DATE.match(text):
                return datetime.fromisoformat(text).replace(tzinfo=UTC)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _invalid(name, "date", value, hint) from None
    else:
        raise _invalid(name, "date", value, hint)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _invalid(name, "date", value, hint)
    return parsed.astimezone(UTC)


def _to_text(trait_type: str, value: object, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    raise _invalid(name, trait_type, value)


def coerce_trait(trait_type: str, value: object, name: str) -> StoredTrait:
    """Fit `value` to a trait of `trait_type`, or raise InvalidInput naming the trait."""
    if value is None:
        raise InvalidInput(f"trait {name!r} has no value (null is not a trait value)", field="traits")
    if trait_type in ("number", "currency"):
        return StoredTrait(value_number=_to_int(trait_type, value, name))
    if trait_type == "boolean":
        return StoredTrait(value_bool=_to_bool(value, name))
    if trait_type == "date":
        return StoredTrait(value_date=_to_date(value, name))
    if trait_type in ("string", "url"):
        return StoredTrait(value_text=_to_text(trait_type, value, name))
    raise InvalidInput(f"unknown trait type {trait_type!r}; one of {', '.join(TRAIT_TYPES)}", field="trait_type")


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def trait_json(trait_type: str, stored: StoredTrait) -> object:
    """The JSON value of a stored trait, for API output."""
    if trait_type in ("number", "currency"):
        return stored.value_number
    if trait_type == "boolean":
        return stored.value_bool
    if trait_type == "date":
        return _rfc3339(stored.value_date) if stored.value_date is not None else None
    return stored.value_text


def render_trait(trait_type: str, stored: StoredTrait) -> str:
    """The string the rules engine compares (§2.6): true/false, integers without decimals, RFC 3339 UTC.
    A missing value renders as the empty string, as a missing trait does."""
    value = trait_json(trait_type, stored)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
