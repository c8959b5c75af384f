"""Input checks shared by company and user writes (product model §1.5-1.7). Pure."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from domain.companies.models import ENTITY_TYPES
from domain.companies.traits import TRAIT_TYPES
from domain.errors import InvalidInput
from domain.timeutil import require_aware

MAX_KEY_NAME = 200
MAX_KEY_VALUE = 500
MAX_NAME = 500
MAX_TRAIT_NAME = 200
MAX_DISPLAY_NAME = 200


def keys(value: object, field: str = "keys") -> dict[str, str]:
    """A non-empty object of key name → string value. Numbers are refused, not stringified: the SDK
    sends strings, so anything else is a caller bug worth surfacing."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be an object of key name to string value", field=field)
    if not value:
        raise InvalidInput(f"{field} must name at least one key", field=field)
    result: dict[str, str] = {}
    for name, key_value in value.items():
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"{field}: key names must be non-empty strings", field=field)
        if len(name) > MAX_KEY_NAME:
            raise InvalidInput(f"{field}: key name {name[:40]!r}… is longer than {MAX_KEY_NAME} characters",
                               field=field)
        if not isinstance(key_value, str):
            kind = "null" if key_value is None else type(key_value).__name__
            raise InvalidInput(f"{field}: key {name!r} must be a string value; got {kind}", field=field)
        if not key_value:
            raise InvalidInput(f"{field}: key {name!r} has an empty value", field=field)
        if len(key_value) > MAX_KEY_VALUE:
            raise InvalidInput(f"{field}: key {name!r} is longer than {MAX_KEY_VALUE} characters", field=field)
        result[name] = key_value
    return result


def remove_keys(value: Sequence[str] | None, kept: Mapping[str, str]) -> list[str]:
    if not value:
        return []
    if isinstance(value, str) or not all(isinstance(name, str) and name for name in value):
        raise InvalidInput("remove_keys must be a list of key names", field="remove_keys")
    both = sorted(set(value) & set(kept))
    if both:
        raise InvalidInput(f"key {both[0]!r} is both set and removed", field="remove_keys")
    return list(dict.fromkeys(value))


def name(value: object, field: str = "name") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{field} is longer than {MAX_NAME} characters", field=field)
    return value


def trait_map(value: object, field: str = "traits") -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be an object of trait name to value", field=field)
    for trait in value:
        trait_name(trait, field)
    return dict(value)


def trait_name(value: object, field: str = "trait") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("trait names must be non-empty strings", field=field)
    if len(value) > MAX_TRAIT_NAME:
        raise InvalidInput(f"trait name {value[:40]!r}… is longer than {MAX_TRAIT_NAME} characters", field=field)
    return value


def entity_type(value: str) -> str:
    if value not in ENTITY_TYPES:
        raise InvalidInput(f"entity_type must be one of {', '.join(ENTITY_TYPES)}", field="entity_type")
    return value


def trait_type(value: str) -> str:
    if value not in TRAIT_TYPES:
        raise InvalidInput(f"trait_type must be one of {', '.join(TRAIT_TYPES)}", field="trait_type")
    return value


def display_name(value: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_DISPLAY_NAME:
        raise InvalidInput(f"display_name must be a string of at most {MAX_DISPLAY_NAME} characters",
                           field="display_name")
    return value


def timestamp(value: datetime | None, field: str = "last_seen_at") -> datetime | None:
    return None if value is None else require_aware(value, field)
