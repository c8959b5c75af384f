"""Window usage from stored counter rows (domain.metering.windows): which rows each window adds up."""

from datetime import UTC, datetime, timedelta

from domain.metering.windows import (
    ALL_TIME,
    BILLING_MONTH,
    DAY,
    MONTH,
    WEEK,
    CounterRow,
    earliest_start,
    stored_starts,
    totals,
)
from domain.periods import EPOCH, BillingAnchor

AT = datetime(2026, 3, 18, 14, 5, tzinfo=UTC)  # a Wednesday; the week began on Sunday the 15th
ANCHOR = BillingAnchor(datetime(2026, 3, 10, 9, 30, tzinfo=UTC), datetime(2026, 4, 10, 9, 30, tzinfo=UTC))


def day(n: int) -> datetime:
    return datetime(2026, 3, n, tzinfo=UTC)


def row(start: datetime, value: int, period: str = "current_day", reset: str = "first_of_month") -> CounterRow:
    return (period, reset, start, value, start, start + timedelta(hours=1))


def test_stored_starts_are_all_time_and_day_plus_a_billing_month_that_is_not_the_calendar_month() -> None:
    assert stored_starts(AT, None) == (EPOCH, day(18))
    assert stored_starts(AT, ANCHOR) == (EPOCH, day(18), datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    assert stored_starts(AT, BillingAnchor(datetime(2026, 1, 1, tzinfo=UTC), None)) == (EPOCH, day(18))
    # before the term starts the billing month ends early: not the calendar month, so it has a row
    later = BillingAnchor(datetime(2026, 3, 25, tzinfo=UTC), None)
    assert stored_starts(AT, later) == (EPOCH, day(18), day(1))


def test_earliest_start_covers_every_window() -> None:
    assert earliest_start(AT, None) == day(1)
    assert earliest_start(datetime(2026, 4, 2, tzinfo=UTC), None) == day(29)  # the week began in March
    assert earliest_start(datetime(2026, 4, 2, tzinfo=UTC), ANCHOR) == day(10).replace(hour=9, minute=30)


def test_day_rows_add_up_to_day_week_and_month() -> None:
    rows = [
        row(EPOCH, 100, "all_time"), row(day(18), 1), row(day(16), 2), row(day(14), 4), row(day(1), 8),
        row(datetime(2026, 2, 28, tzinfo=UTC), 16), row(day(19), 32),  # tomorrow: an event up to a day ahead
    ]
    found = totals(rows, AT, None)
    assert {w: t.usage for w, t in found.items()} == {
        ALL_TIME: 100, DAY: 1, WEEK: 1 + 2 + 32, MONTH: 1 + 2 + 4 + 8 + 32, BILLING_MONTH: 1 + 2 + 4 + 8 + 32,
    }
    assert found[MONTH].rows == 5 and found[MONTH].first == day(1) and found[MONTH].last == day(19) + timedelta(hours=1)
    assert found[DAY].first == day(18)


def test_billing_month_that_is_not_the_calendar_month_reads_its_own_row() -> None:
    start = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    rows = [
        row(day(18), 3), row(start, 5, "current_month", "billing_cycle"),
        row(datetime(2026, 2, 10, 9, 30, tzinfo=UTC), 50, "current_month", "billing_cycle"),  # last month
    ]
    found = totals(rows, AT, ANCHOR)
    assert (found[BILLING_MONTH].usage, found[MONTH].usage, found[DAY].usage) == (5, 3, 3)
    assert totals([], AT, ANCHOR)[BILLING_MONTH].rows == 0


def test_totals_are_floored_at_zero_but_stored_sums_carry_corrections() -> None:
    rows = [row(EPOCH, -5, "all_time"), row(day(18), 10), row(day(17), -15)]
    found = totals(rows, AT, None)
    assert (found[DAY].value, found[DAY].usage) == (10, 10)
    assert (found[WEEK].value, found[WEEK].usage) == (-5, 0)
    assert found[ALL_TIME].usage == 0
