"""Parsing of check inputs, shared by the REST and GraphQL surfaces. `null` means absent."""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidInput
from domain.rules import InvalidPreflight, Preflight


def parse_keys(value: Any, field: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be an object of key name to key value", field=field)
    keys: dict[str, str] = {}
    for name, key_value in value.items():
        if not isinstance(key_value, str):
            raise InvalidInput(
                f"{field}.{name} must be a string (got {type(key_value).__name__}); keys are strings", field=field
            )
        keys[str(name)] = key_value
    return keys or None


def _non_negative_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise InvalidInput(f"{field} must be an integer", field=field)
    if value < 0:
        raise InvalidInput(f"{field} must not be negative", field=field)
    return int(value)


def parse_preflight(value: Any) -> Preflight | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("preflight must be an object", field="preflight")
    usage = _non_negative_int(value.get("usage"), "preflight.usage")
    event_usage = None
    raw = value.get("event_usage")
    if raw is not None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("event_subtype"), str):
            raise InvalidInput("preflight.event_usage must be {event_subtype, quantity}", field="preflight")
        quantity = _non_negative_int(raw.get("quantity", 1), "preflight.event_usage.quantity")
        event_usage = (raw["event_subtype"], quantity if quantity is not None else 1)
    quantities = None
    raw = value.get("event_quantities")
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise InvalidInput("preflight.event_quantities must be an object", field="preflight")
        quantities = {str(k): _non_negative_int(v, f"preflight.event_quantities.{k}") or 0 for k, v in raw.items()}
    costs = None
    raw = value.get("credit_cost")
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise InvalidInput("preflight.credit_cost must be an object of credit id to cost", field="preflight")
        costs = {}
        for credit_id, cost in raw.items():
            try:
                amount = Decimal(str(cost)) if not isinstance(cost, bool) else None
            except InvalidOperation:
                amount = None
            if amount is None or not amount.is_finite():
                raise InvalidInput(f"preflight.credit_cost.{credit_id} must be a number", field="preflight")
            if amount < 0:
                raise InvalidInput(f"preflight.credit_cost.{credit_id} must not be negative", field="preflight")
            costs[str(credit_id)] = amount
    try:
        return Preflight(usage=usage, event_usage=event_usage, event_quantities=quantities, credit_cost=costs)
    except InvalidPreflight as exc:
        raise InvalidInput(str(exc), field="preflight") from None


def require_context(company: dict[str, str] | None, user: dict[str, str] | None) -> None:
    if company is None and user is None:
        raise InvalidInput("send company keys, user keys or both (e.g. {\"company\": {\"id\": \"acme\"}})")
