"""Segment HTTP tracking API messages → plangate events (product model §6.2). Pure mapping.

Defaults, each overridable in the write key's `settings` (docs/metering.md):

| setting | default | meaning |
|---|---|---|
| `user_key` | `"user_id"` | user key name that `userId` fills |
| `anonymous_key` | `null` | user key name for `anonymousId` when there is no `userId` (null: ignore it) |
| `company_key` | `"group_id"` | company key name that the group id fills |
| `company_context_field` | `"groupId"` | field of `context` carrying the group id on track/identify |
| `company_name_trait` | `"name"` | group trait used as the company name |
| `user_name_trait` | `"name"` | identify trait used as the user name |
| `quantity_property` | `"quantity"` | track property holding the quantity (default 1) |
| `snake_case_events` | `true` | convert track event names to snake_case ("Seat Added" → seat_added) |
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInput
from domain.metering.ingest import IncomingEvent
from domain.metering.parsing import snake_case
from domain.scope import Scope

IGNORED_TYPES = ("page", "screen", "alias")


@dataclass(frozen=True, slots=True)
class SegmentMapping:
    user_key: str = "user_id"
    anonymous_key: str | None = None
    company_key: str = "group_id"
    company_context_field: str = "groupId"
    company_name_trait: str = "name"
    user_name_trait: str = "name"
    quantity_property: str = "quantity"
    snake_case_events: bool = True

    @classmethod
    def validate(cls, settings: object) -> dict[str, Any]:
        """Check a write key's mapping settings: known names only, each of the right type."""
        if not isinstance(settings, Mapping):
            raise InvalidInput("the Segment mapping must be a JSON object", field="mapping")
        for name, value in settings.items():
            field = cls.__dataclass_fields__.get(name)
            if field is None:
                known = ", ".join(cls.__dataclass_fields__)
                raise InvalidInput(f"unknown Segment mapping setting {name!r}; known: {known}", field="mapping")
            if field.type in (bool, "bool"):
                ok = isinstance(value, bool)
            elif name == "anonymous_key":
                ok = value is None or (isinstance(value, str) and value != "")
            else:
                ok = isinstance(value, str) and value != ""
            if not ok:
                raise InvalidInput(f"Segment mapping setting {name!r} has the wrong type: {value!r}", field="mapping")
        return dict(settings)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> "SegmentMapping":
        if not settings:
            return cls()
        known = {name: settings[name] for name in cls.__dataclass_fields__ if name in settings}
        return cls(**known)


def _id(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float):
        return str(value)
    return None


def _scalar_traits(traits: object, *drop: str) -> dict[str, object]:
    """Segment traits may nest objects (address, company); plangate traits are scalars, so nested
    values and nulls are left out."""
    if not isinstance(traits, Mapping):
        return {}
    return {
        k: v for k, v in traits.items()
        if k not in drop and isinstance(k, str) and isinstance(v, str | int | float | bool)
    }


def _user_keys(message: Mapping[str, Any], mapping: SegmentMapping) -> dict[str, str] | None:
    user_id = _id(message.get("userId"))
    if user_id is not None:
        return {mapping.user_key: user_id}
    anonymous = _id(message.get("anonymousId"))
    if anonymous is not None and mapping.anonymous_key:
        return {mapping.anonymous_key: anonymous}
    return None


def _context_group(message: Mapping[str, Any], mapping: SegmentMapping) -> str | None:
    context = message.get("context")
    if not isinstance(context, Mapping):
        return None
    return _id(context.get(mapping.company_context_field))


def to_event(scope: Scope, mapping: SegmentMapping, message: object) -> IncomingEvent | None:
    """One Segment message as an event; None for message types plangate ignores (page, screen, alias)."""
    if not isinstance(message, Mapping):
        return IncomingEvent(scope, "segment", {"message": message}, source="segment")
    kind = message.get("type")
    if kind in IGNORED_TYPES:
        return None
    common: dict[str, Any] = {
        "idempotency_key": message.get("messageId"),
        "sent_at": message.get("timestamp") if isinstance(message.get("timestamp"), str) else None,
        "source": "segment",
    }
    user = _user_keys(message, mapping)
    if kind == "track":
        raw = message.get("event")
        name = snake_case(raw) if mapping.snake_case_events and isinstance(raw, str) else raw
        properties = message.get("properties") if isinstance(message.get("properties"), Mapping) else {}
        group = _context_group(message, mapping)
        body = {
            "event": name,
            "company": {mapping.company_key: group} if group else None,
            "user": user,
            "quantity": properties.get(mapping.quantity_property),
            "traits": dict(properties),
        }
        return IncomingEvent(scope, "track", body, raw_event_name=raw if isinstance(raw, str) else None, **common)
    if kind == "identify":
        traits = message.get("traits") if isinstance(message.get("traits"), Mapping) else {}
        group = _context_group(message, mapping)
        body = {
            "keys": user,
            "name": traits.get(mapping.user_name_trait) if isinstance(traits.get(mapping.user_name_trait), str)
            else None,
            "traits": _scalar_traits(traits, mapping.user_name_trait),
            "company": {"keys": {mapping.company_key: group}} if group else None,
        }
        return IncomingEvent(scope, "identify", body, **common)
    if kind == "group":
        traits = message.get("traits") if isinstance(message.get("traits"), Mapping) else {}
        group = _id(message.get("groupId"))
        company_name = traits.get(mapping.company_name_trait)
        body = {
            "keys": user,
            "company": {
                "keys": {mapping.company_key: group} if group else None,
                "name": company_name if isinstance(company_name, str) else None,
                "traits": _scalar_traits(traits, mapping.company_name_trait),
            },
        }
        return IncomingEvent(scope, "identify", body, **common)
    return IncomingEvent(scope, kind if isinstance(kind, str) else "segment", dict(message), **common)
