"""Metric windows and reset times, all UTC (product model §2.11).

A window is half-open ``[start, end)``: an event exactly at ``end`` belongs to the next window.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PERIODS = ("all_time", "current_day", "current_week", "current_month")
MONTH_RESETS = ("first_of_month", "billing_cycle")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BillingAnchor:
    """The current subscription period; its start's day-of-month and time anchor the cycle."""

    period_start: datetime
    period_end: datetime | None

    @classmethod
    def of(cls, period_start: datetime | None, period_end: datetime | None) -> BillingAnchor | None:
        """The anchor of a stored subscription period; None without one (calendar months)."""
        return cls(period_start, period_end) if period_start is not None else None


def _utc(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return dt.astimezone(UTC)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _anchor_in(year: int, month: int, anchor: datetime) -> datetime:
    # Days 29-31 clamp to the month's last day (anchor 31 -> Feb 28), as Stripe does.
    day = min(anchor.day, monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _calendar_month(at: datetime) -> tuple[datetime, datetime]:
    return _month_start(at.year, at.month), _month_start(*_shift_month(at.year, at.month, 1))


def _billing_month(at: datetime, anchor: BillingAnchor) -> tuple[datetime, datetime]:
    start_of_term = _utc(anchor.period_start, "period_start")
    if start_of_term > at:
        start, next_first = _calendar_month(at)
        return start, min(next_first, start_of_term)
    year, month = at.year, at.month
    start = _anchor_in(year, month, start_of_term)
    if start > at:
        year, month = _shift_month(year, month, -1)
        start = _anchor_in(year, month, start_of_term)
    end = _anchor_in(*_shift_month(year, month, 1), start_of_term)
    if anchor.period_end is not None:
        term_end = _utc(anchor.period_end, "period_end")
        # A period_end already in the past is a stale snapshot (renewal pending): ignore it.
        if at < term_end < end:
            end = term_end
    return max(start, start_of_term), end


def window(
    period: str, month_reset: str | None, at: datetime, anchor: BillingAnchor | None = None
) -> tuple[datetime | None, datetime | None]:
    """The ``[start, end)`` window containing ``at``; ``all_time`` → (None, None)."""
    at = _utc(at, "at")
    if month_reset is not None and month_reset not in MONTH_RESETS:
        raise ValueError(f"unknown month_reset {month_reset!r}")
    if period == "all_time":
        return None, None
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "current_day":
        return day, day + timedelta(days=1)
    if period == "current_week":
        sunday = day - timedelta(days=(at.weekday() + 1) % 7)
        return sunday, sunday + timedelta(days=7)
    if period == "current_month":
        if month_reset == "billing_cycle" and anchor is not None:
            return _billing_month(at, anchor)
        return _calendar_month(at)
    raise ValueError(f"unknown metric period {period!r}")


def billing_month_is_calendar(at: datetime, anchor: BillingAnchor | None) -> bool:
    """Whether the billing-cycle month containing ``at`` is the calendar month (always without a
    subscription). Its usage is then the (current_month, first_of_month) counter: no billing_cycle
    counter row is stored for it."""
    if anchor is None:
        return True
    at = _utc(at, "at")
    return _billing_month(at, anchor) == _calendar_month(at)


def window_start_key(
    period: str, month_reset: str | None, at: datetime, anchor: BillingAnchor | None = None
) -> datetime:
    """The window start used as a counter key; ``all_time`` uses the fixed ``EPOCH``."""
    start, _ = window(period, month_reset, at, anchor)
    return EPOCH if start is None else start


def reset_at(
    period: str, month_reset: str | None, at: datetime, anchor: BillingAnchor | None = None
) -> datetime | None:
    """When the window containing ``at`` ends (``metric_reset_at``); ``all_time`` → None."""
    return window(period, month_reset, at, anchor)[1]
