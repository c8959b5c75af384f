"""Time helpers. Every timestamp in plangate is timezone-aware UTC; naive input is refused."""

from datetime import UTC, datetime

from domain.errors import InvalidInput


def utcnow() -> datetime:
    return datetime.now(UTC)


def require_aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a timezone (e.g. 2026-03-18T14:05:00Z)", field=field)
    return value.astimezone(UTC)


def parse_timestamp(value: object, field: str) -> datetime:
    """Parse an RFC 3339 timestamp from the wire; naive or malformed values are refused."""
    if isinstance(value, datetime):
        return require_aware(value, field)
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an RFC 3339 timestamp string", field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{field} is not an RFC 3339 timestamp: {value!r}", field=field) from None
    return require_aware(parsed, field)


def isoformat(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z` suffix, as Schematic's wire format has it."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")
