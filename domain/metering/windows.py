"""Usage per window from the stored counter rows (pure: no ORM, no web).

Ingestion keeps few rows per (entity, event name) so that each event touches as few as possible:

* one `all_time` row;
* one `current_day` row per UTC day;
* one `(current_month, billing_cycle)` row per billing month, only while the billing month is not the
  calendar month (a subscription anchored on another day than the 1st, at 00:00 UTC).

Week and calendar-month usage are sums of day rows, a billing month that is the calendar month is the
calendar-month sum. Rows hold raw sums: a correction (negative quantity) may leave a row negative, and
the usage of a window is its total floored at 0, as Stripe floors a meter's window total. Sums commute,
so the result does not depend on the order in which concurrent transactions commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.periods import EPOCH, BillingAnchor, billing_month_is_calendar, window, window_start_key

FIRST_OF_MONTH, BILLING_CYCLE = "first_of_month", "billing_cycle"
Window = tuple[str, str]  # (period, month_reset)
ALL_TIME: Window = ("all_time", FIRST_OF_MONTH)
DAY: Window = ("current_day", FIRST_OF_MONTH)
WEEK: Window = ("current_week", FIRST_OF_MONTH)
MONTH: Window = ("current_month", FIRST_OF_MONTH)
BILLING_MONTH: Window = ("current_month", BILLING_CYCLE)
# Every window usage is read for, and the windows that have rows of their own.
WINDOWS: tuple[Window, ...] = (ALL_TIME, DAY, WEEK, MONTH, BILLING_MONTH)
STORED_WINDOWS: tuple[Window, ...] = (ALL_TIME, DAY, BILLING_MONTH)
_SUMMED = (DAY, WEEK, MONTH)

# period, month_reset, window_start, value, captured_at_min, captured_at_max
CounterRow = tuple[str, str, datetime, int, datetime | None, datetime | None]


def stored_starts(at: datetime, anchor: BillingAnchor | None) -> tuple[datetime, ...]:
    """The window start of each of `STORED_WINDOWS` an event captured at `at` is counted in; the
    billing-month start is left out when that month is the calendar month."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if billing_month_is_calendar(at, anchor):
        return (EPOCH, day)
    return (EPOCH, day, window_start_key(*BILLING_MONTH, at, anchor))


def earliest_start(at: datetime, anchor: BillingAnchor | None) -> datetime:
    """The earliest `window_start` of a non-all-time row that a window containing `at` reads."""
    return min(window_start_key(period, reset, at, anchor) for period, reset in WINDOWS[1:])


@dataclass(slots=True)
class Total:
    """The rows of one window added up."""

    value: int = 0  # raw sum: negative when corrections exceed the usage
    rows: int = 0
    first: datetime | None = None  # earliest captured_at among the rows' events
    last: datetime | None = None

    @property
    def usage(self) -> int:
        """The usage of the window: the total floored at 0."""
        return max(0, self.value)

    def add(self, value: int, first: datetime | None, last: datetime | None) -> None:
        self.value += value
        self.rows += 1
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last


def totals(rows: Iterable[CounterRow], at: datetime, anchor: BillingAnchor | None) -> dict[Window, Total]:
    """The total of every window of `WINDOWS` containing `at`, from the counter rows of one entity and
    event name (rows outside those windows are ignored)."""
    bounds = {w: window(*w, at, anchor) for w in _SUMMED}
    billing_start = window_start_key(*BILLING_MONTH, at, anchor)
    billing_is_calendar = billing_month_is_calendar(at, anchor)
    out = {w: Total() for w in WINDOWS}
    for period, reset, start, value, first, last in rows:
        if period == "all_time":
            out[ALL_TIME].add(value, first, last)
        elif (period, reset) == BILLING_MONTH:
            if not billing_is_calendar and start == billing_start:
                out[BILLING_MONTH].add(value, first, last)
        elif (period, reset) == DAY:
            for w, (lower, upper) in bounds.items():
                if lower is not None and lower <= start and (upper is None or start < upper):
                    out[w].add(value, first, last)
    if billing_is_calendar:
        out[BILLING_MONTH] = out[MONTH]
    return out
