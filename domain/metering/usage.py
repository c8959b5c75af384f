"""Reading usage: one counter for a period, a daily series for charts, stored events."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain.companies.models import Company, User
from domain.errors import InvalidInput, NotFound
from domain.metering.models import EVENT_STATUSES, Event, UsageCounter
from domain.metering.parsing import event_name as checked_event_name
from domain.metering.windows import DAY, FIRST_OF_MONTH, CounterRow, Total, Window, earliest_start, totals
from domain.periods import MONTH_RESETS, PERIODS, BillingAnchor, reset_at, window
from domain.scope import Scope
from domain.timeutil import require_aware, utcnow

MAX_SERIES_DAYS = 366


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    event_name: str
    entity_id: str
    period: str
    month_reset: str
    window_start: datetime | None  # None for all_time
    reset_at: datetime | None  # None for all_time
    value: int


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: datetime  # 00:00 UTC
    value: int


async def _entity(scope: Scope, company_id: str | None, user_id: str | None) -> tuple[str, BillingAnchor | None]:
    if (company_id is None) == (user_id is None):
        raise InvalidInput("give exactly one of companyId and userId", field="companyId")
    if company_id is not None:
        company = await Company.get_or_none(id=company_id, environment_id=scope.environment_id)
        if company is None:
            raise NotFound(f"no company with id {company_id!r}", field="companyId")
        return company.id, BillingAnchor.of(company.billing_period_start, company.billing_period_end)
    assert user_id is not None
    if not await User.exists(id=user_id, environment_id=scope.environment_id):
        raise NotFound(f"no user with id {user_id!r}", field="userId")
    return user_id, None


async def window_totals(
    environment_id: str, anchors: Mapping[str, BillingAnchor | None], at: datetime, event_name: str | None = None,
) -> dict[str, dict[str, dict[Window, Total]]]:
    """entity id -> event name -> the total of every window containing `at`, for the companies and
    users of `anchors` (entity id -> its billing anchor, None for users and companies without one).
    One query: the all-time rows and the rows of the windows' days."""
    if not anchors:
        return {}
    earliest = min(earliest_start(at, anchor) for anchor in anchors.values())
    query = UsageCounter.filter(environment_id=environment_id, entity_id__in=list(anchors)).filter(
        Q(period="all_time") | Q(window_start__gte=earliest)
    )
    if event_name is not None:
        query = query.filter(event_name=event_name)
    grouped: dict[str, dict[str, list[CounterRow]]] = {}
    for entity_id, name, period, reset, start, value, first, last in await query.values_list(
        "entity_id", "event_name", "period", "month_reset", "window_start", "value", "captured_at_min",
        "captured_at_max",
    ):
        grouped.setdefault(entity_id, {}).setdefault(name, []).append((period, reset, start, value, first, last))
    return {
        entity_id: {name: totals(rows, at, anchors[entity_id]) for name, rows in by_name.items()}
        for entity_id, by_name in grouped.items()
    }


async def event_usage(
    scope: Scope, event_name: str, *, company_id: str | None = None, user_id: str | None = None,
    period: str = "all_time", month_reset: str | None = None, at: datetime | None = None,
) -> PeriodUsage:
    """Usage of `event_name` by a company or user in the window of `period` containing `at` (now)."""
    checked_event_name(event_name)
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}", field="period")
    reset = (month_reset or FIRST_OF_MONTH) if period == "current_month" else FIRST_OF_MONTH
    if reset not in MONTH_RESETS:
        raise InvalidInput(f"monthReset must be one of {', '.join(MONTH_RESETS)}", field="monthReset")
    at = require_aware(at, "at") if at is not None else utcnow()
    entity_id, anchor = await _entity(scope, company_id, user_id)
    start, _ = window(period, reset, at, anchor)
    found = await window_totals(scope.environment_id, {entity_id: anchor}, at, event_name)
    total = found.get(entity_id, {}).get(event_name)
    value = total[(period, reset)].usage if total else 0
    return PeriodUsage(event_name, entity_id, period, reset, start, reset_at(period, reset, at, anchor), value)


async def usage_time_series(
    scope: Scope, event_name: str, start: datetime, end: datetime, *, company_id: str | None = None,
    user_id: str | None = None,
) -> list[DailyUsage]:
    """Daily usage (UTC days, each floored at 0) from `start`'s day to `end`'s day inclusive, zero-filled."""
    checked_event_name(event_name)
    first = require_aware(start, "from").astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last = require_aware(end, "to").astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if last < first:
        raise InvalidInput("to is before from", field="to")
    days = (last - first).days + 1
    if days > MAX_SERIES_DAYS:
        raise InvalidInput(f"a time series covers at most {MAX_SERIES_DAYS} days", field="to")
    entity_id, _ = await _entity(scope, company_id, user_id)
    period, reset = DAY
    rows = await UsageCounter.filter(
        environment_id=scope.environment_id, entity_id=entity_id, event_name=event_name, period=period,
        month_reset=reset, window_start__gte=first, window_start__lte=last,
    ).values_list("window_start", "value")
    by_day = {ws.astimezone(UTC): max(0, value) for ws, value in rows}
    return [DailyUsage(day, by_day.get(day, 0)) for day in (first + timedelta(days=i) for i in range(days))]


def event_list(
    scope: Scope, *, status: str | None = None, event_type: str | None = None, event_name: str | None = None,
    company_id: str | None = None, user_id: str | None = None,
) -> QuerySet[Event]:
    """Stored events of the environment, filtered; the caller orders and pages (newest first by id)."""
    query = Event.filter(environment_id=scope.environment_id)
    if status is not None:
        if status not in EVENT_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(EVENT_STATUSES)}", field="status")
        query = query.filter(status=status)
    if event_type is not None:
        query = query.filter(event_type=event_type)
    if event_name is not None:
        query = query.filter(event_name=event_name)
    if company_id is not None:
        query = query.filter(company_id=company_id)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    return query
