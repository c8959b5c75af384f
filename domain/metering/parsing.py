"""Validation of event fields and derivation of idempotency keys. Pure: no ORM, no web."""

import hashlib
import re
from datetime import datetime

import orjson

from domain.errors import InvalidInput

MAX_EVENT_NAME = 200
MAX_QUANTITY = 10**12  # per event; keeps sums far from BIGINT overflow
MAX_IDEMPOTENCY_KEY = 200  # longer keys are stored as "sha256:<hex>"
DERIVED_PREFIX = "auto:"

_EVENT_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
# Words as lodash's snakeCase (used by Segment destinations) finds them: acronyms, capitalised and
# lower-case words, digit runs.
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def event_name(value: object) -> str:
    """A track event's name: letters, digits, '-', '_' and '.', at most 200 characters."""
    if value is None or value == "":
        raise InvalidInput("track event needs an event name (body.event)", field="event")
    if not isinstance(value, str):
        raise InvalidInput(f"event name must be a string; got {type(value).__name__}", field="event")
    if len(value) > MAX_EVENT_NAME:
        raise InvalidInput(f"event name is longer than {MAX_EVENT_NAME} characters", field="event")
    if not _EVENT_NAME.fullmatch(value):
        raise InvalidInput(
            f"event name {value!r} is invalid: use only letters, digits, '-', '_' and '.'", field="event"
        )
    return value


def quantity(value: object) -> int:
    """An integer; absent or null counts as 1; a float with an integral value (3.0) is accepted."""
    if value is None:
        return 1
    if isinstance(value, bool):
        raise InvalidInput("quantity must be an integer; got a boolean", field="quantity")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        shown = repr(value) if isinstance(value, str | float) else type(value).__name__
        raise InvalidInput(f"quantity must be an integer; got {shown}", field="quantity")
    if abs(number) > MAX_QUANTITY:
        raise InvalidInput(f"quantity must be between -{MAX_QUANTITY} and {MAX_QUANTITY}", field="quantity")
    return number


def flag(value: object, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be a boolean", field=field)
    return value


def snake_case(name: str) -> str:
    """Segment event name → plangate event name: "Seat Added" → "seat_added", "APICall" → "api_call"."""
    return "_".join(word.lower() for word in _WORDS.findall(name))


def has_nul(value: object) -> bool:
    """Whether a JSON value holds a NUL character, which PostgreSQL text and jsonb cannot store."""
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        return False
    return b"\\u0000" in encoded and _walk_has_nul(value)


def _walk_has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_walk_has_nul(k) or _walk_has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_walk_has_nul(v) for v in value)
    return False


def strip_nul(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_nul(v) for v in value]
    return value


def stored_key(key: str) -> str:
    """The idempotency key as stored (at most 200 characters): long keys are replaced by their hash."""
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def derived_key(
    event_type: object, body: object, sent_at: object, received_at: datetime, nonce: str, position: int
) -> str:
    """The idempotency key of an event sent without one (docs/metering.md):

    * with `sent_at`: sha256 of (type, canonical body, sent_at) — a client resending the same event
      (same body, same sent_at) is deduplicated;
    * without: sha256 of (type, canonical body, receipt time in µs, a random per-request nonce,
      position in the request) — unique per delivery, so such events are never deduplicated (the
      nonce keeps identical bodies received in the same microsecond by two processes apart)."""
    if sent_at is not None:
        material: list[object] = [event_type, body, sent_at]
    else:
        material = [event_type, body, received_at.isoformat(timespec="microseconds"), nonce, position]
    raw = orjson.dumps(material, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return DERIVED_PREFIX + hashlib.sha256(raw).hexdigest()
