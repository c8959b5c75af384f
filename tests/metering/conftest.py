"""Helpers of the metering tests: reading counters, entities and stored events back from the database."""

from datetime import datetime
from typing import Any

from domain.companies.models import Company, CompanyKey, User, UserKey
from domain.metering.models import Event, IdempotencyKey, UsageCounter
from domain.metering.usage import window_totals
from domain.metering.windows import WINDOWS
from domain.periods import BillingAnchor
from domain.timeutil import utcnow
from tests.live import live_server, live_server_factory  # noqa: F401  (fixtures for this package)


async def company_id(key: str, value: str) -> str | None:
    row = await CompanyKey.get_or_none(key=key, value=value)
    return row.company_id if row else None  # type: ignore[attr-defined]


async def user_id(key: str, value: str) -> str | None:
    row = await UserKey.get_or_none(key=key, value=value)
    return row.user_id if row else None  # type: ignore[attr-defined]


async def company(key: str, value: str) -> Company:
    found = await company_id(key, value)
    assert found is not None, f"no company with key {key}={value}"
    return await Company.get(id=found)


async def user(key: str, value: str) -> User:
    found = await user_id(key, value)
    assert found is not None, f"no user with key {key}={value}"
    return await User.get(id=found)


async def counter(
    entity_id: str, event: str, period: str = "all_time", month_reset: str = "first_of_month",
    at: datetime | None = None, anchor: BillingAnchor | None = None,
) -> int:
    """The usage of `event` by a company or user in the window containing `at` (now), floored at 0."""
    return (await counters(entity_id, event, at, anchor))[(period, month_reset)]


async def counters(
    entity_id: str, event: str, at: datetime | None = None, anchor: BillingAnchor | None = None,
) -> dict[tuple[str, str], int]:
    """The usage in every window containing `at` (now)."""
    environment_id = await UsageCounter.filter(entity_id=entity_id).values_list("environment_id", flat=True)
    if not environment_id:
        return dict.fromkeys(WINDOWS, 0)
    found = await window_totals(environment_id[0], {entity_id: anchor}, at or utcnow(), event)
    by_window = found.get(entity_id, {}).get(event)
    return {w: by_window[w].usage if by_window else 0 for w in WINDOWS}


async def all_counters() -> list[dict[str, Any]]:
    return await UsageCounter.all().order_by("entity_id", "event_name", "period", "month_reset", "window_start").values(
        "entity_id", "event_name", "period", "month_reset", "window_start", "value"
    )


async def events(**filters: Any) -> list[Event]:
    return await Event.filter(**filters).order_by("id")


async def nothing_stored() -> None:
    assert await Event.all().count() == 0
    assert await IdempotencyKey.all().count() == 0
    assert await UsageCounter.all().count() == 0
    assert await Company.all().count() == 0


def track(event: str = "api-call", company: dict | None = None, quantity: Any = None, key: str | None = None,
          api_key: str | None = None, user: dict | None = None, traits: dict | None = None,
          **envelope: Any) -> dict[str, Any]:
    """A capture-API track event; `envelope` holds sent_at, backfill, trusted_client_clock."""
    body: dict[str, Any] = {"event": event, "company": company if company is not None else {"id": "acme"}}
    if quantity is not None:
        body["quantity"] = quantity
    if user is not None:
        body["user"] = user
    if traits is not None:
        body["traits"] = traits
    out: dict[str, Any] = {"type": "track", "body": body, **envelope}
    if api_key:
        out["api_key"] = api_key
    if key:
        out["idempotency_key"] = key
    return out
