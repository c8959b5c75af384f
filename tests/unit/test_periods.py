"""Metric windows and reset times (§2.11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.periods import EPOCH, MONTH_RESETS, PERIODS, BillingAnchor, reset_at, window, window_start_key


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


AT = utc(2026, 3, 18, 14, 5)  # a Wednesday
MONTHLY = BillingAnchor(utc(2026, 3, 10, 9, 30), utc(2026, 4, 10, 9, 30))
YEARLY = BillingAnchor(utc(2025, 11, 10, 9, 30), utc(2026, 11, 10, 9, 30))
FUTURE = BillingAnchor(utc(2026, 3, 20, 8), utc(2026, 4, 20, 8))


def test_constants() -> None:
    assert PERIODS == ("all_time", "current_day", "current_week", "current_month")
    assert MONTH_RESETS == ("first_of_month", "billing_cycle")
    assert EPOCH == utc(1970, 1, 1)


# Every row of the §2.11 worked example (check at 2026-03-18T14:05:00Z).
WORKED = [
    ("current_day", None, None, utc(2026, 3, 18), utc(2026, 3, 19)),
    ("current_week", None, None, utc(2026, 3, 15), utc(2026, 3, 22)),
    ("current_month", "first_of_month", None, utc(2026, 3, 1), utc(2026, 4, 1)),
    ("current_month", "billing_cycle", MONTHLY, utc(2026, 3, 10, 9, 30), utc(2026, 4, 10, 9, 30)),
    ("current_month", "billing_cycle", YEARLY, utc(2026, 3, 10, 9, 30), utc(2026, 4, 10, 9, 30)),
    ("current_month", "billing_cycle", FUTURE, utc(2026, 3, 1), utc(2026, 3, 20, 8)),
]


@pytest.mark.parametrize(("period", "reset", "anchor", "start", "end"), WORKED)
def test_worked_example(
    period: str, reset: str | None, anchor: BillingAnchor | None, start: datetime, end: datetime
) -> None:
    assert window(period, reset, AT, anchor) == (start, end)
    assert window_start_key(period, reset, AT, anchor) == start
    assert reset_at(period, reset, AT, anchor) == end


def test_worked_example_week_starts_on_sunday() -> None:
    assert window("current_week", None, AT)[0].weekday() == 6  # type: ignore[union-attr]


@pytest.mark.parametrize("reset", [None, "first_of_month", "billing_cycle"])
def test_all_time(reset: str | None) -> None:
    assert window("all_time", reset, AT, MONTHLY) == (None, None)
    assert window_start_key("all_time", reset, AT, MONTHLY) == EPOCH
    assert reset_at("all_time", reset, AT, MONTHLY) is None


@pytest.mark.parametrize(
    ("reset", "anchor"),
    [(None, None), (None, MONTHLY), ("first_of_month", MONTHLY), ("billing_cycle", None)],
)
def test_month_falls_back_to_calendar_month(reset: str | None, anchor: BillingAnchor | None) -> None:
    assert window("current_month", reset, AT, anchor) == (utc(2026, 3, 1), utc(2026, 4, 1))


@pytest.mark.parametrize("period", ["current_day", "current_week"])
def test_month_reset_irrelevant_for_day_and_week(period: str) -> None:
    assert window(period, "billing_cycle", AT, MONTHLY) == window(period, None, AT)


# ------------------------------------------------------------------ day and week


@pytest.mark.parametrize(
    ("at", "start"),
    [
        (utc(2026, 3, 15), utc(2026, 3, 15)),  # Sunday 00:00 itself
        (utc(2026, 3, 15, 23, 59, 59), utc(2026, 3, 15)),  # still Sunday
        (utc(2026, 3, 14, 23, 59, 59, 999999), utc(2026, 3, 8)),  # Saturday: previous week
        (utc(2026, 3, 16), utc(2026, 3, 15)),  # Monday
        (utc(2026, 3, 21, 12), utc(2026, 3, 15)),  # Saturday
        (utc(2026, 3, 22), utc(2026, 3, 22)),  # exactly the old window's end
        (utc(2026, 12, 31, 8), utc(2026, 12, 27)),  # across the year end
        (utc(2027, 1, 2, 23), utc(2026, 12, 27)),
        (utc(2028, 3, 1), utc(2028, 2, 27)),  # across a leap day
    ],
)
def test_week(at: datetime, start: datetime) -> None:
    assert window("current_week", None, at) == (start, start + timedelta(days=7))
    assert reset_at("current_week", None, at) == start + timedelta(days=7)


def test_week_reset_on_sunday_is_seven_days_ahead() -> None:
    assert reset_at("current_week", None, utc(2026, 3, 15, 0, 0, 1)) == utc(2026, 3, 22)


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2026, 3, 18), utc(2026, 3, 18), utc(2026, 3, 19)),
        (utc(2026, 3, 18, 23, 59, 59, 999999), utc(2026, 3, 18), utc(2026, 3, 19)),
        (utc(2026, 3, 19), utc(2026, 3, 19), utc(2026, 3, 20)),  # boundary belongs to the next day
        (utc(2028, 2, 29, 12), utc(2028, 2, 29), utc(2028, 3, 1)),  # leap day
        (utc(2026, 12, 31, 23, 59), utc(2026, 12, 31), utc(2027, 1, 1)),
    ],
)
def test_day(at: datetime, start: datetime, end: datetime) -> None:
    assert window("current_day", None, at) == (start, end)


# ------------------------------------------------------------------ calendar month


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2026, 3, 31, 23, 59, 59, 999999), utc(2026, 3, 1), utc(2026, 4, 1)),
        (utc(2026, 4, 1), utc(2026, 4, 1), utc(2026, 5, 1)),  # exact boundary: next window
        (utc(2026, 12, 31, 23, 59), utc(2026, 12, 1), utc(2027, 1, 1)),  # Dec -> Jan
        (utc(2027, 1, 1), utc(2027, 1, 1), utc(2027, 2, 1)),
        (utc(2028, 2, 29, 12), utc(2028, 2, 1), utc(2028, 3, 1)),  # leap year
        (utc(2026, 2, 28, 12), utc(2026, 2, 1), utc(2026, 3, 1)),
    ],
)
@pytest.mark.parametrize("reset", [None, "first_of_month"])
def test_calendar_month(at: datetime, start: datetime, end: datetime, reset: str | None) -> None:
    assert window("current_month", reset, at) == (start, end)


# ------------------------------------------------------------------ billing cycle


def cycle(at: datetime, start: datetime, end: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    return window("current_month", "billing_cycle", at, BillingAnchor(start, end))


JAN31 = utc(2026, 1, 31, 9, 30)


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2026, 2, 15), JAN31, utc(2026, 2, 28, 9, 30)),  # anchor 31 -> Feb 28
        (utc(2026, 2, 28, 9, 29), JAN31, utc(2026, 2, 28, 9, 30)),
        (utc(2026, 2, 28, 9, 30), utc(2026, 2, 28, 9, 30), utc(2026, 3, 31, 9, 30)),  # back to day 31
        (utc(2026, 3, 31, 9, 30), utc(2026, 3, 31, 9, 30), utc(2026, 4, 30, 9, 30)),  # April has 30 days
        (utc(2026, 5, 15), utc(2026, 4, 30, 9, 30), utc(2026, 5, 31, 9, 30)),
        (utc(2028, 2, 29, 10), utc(2028, 2, 29, 9, 30), utc(2028, 3, 31, 9, 30)),  # leap: Feb 29
        (utc(2028, 2, 29, 9), utc(2028, 1, 31, 9, 30), utc(2028, 2, 29, 9, 30)),
    ],
)
def test_billing_cycle_clamps_anchor_days(at: datetime, start: datetime, end: datetime) -> None:
    assert cycle(at, JAN31) == (start, end)


@pytest.mark.parametrize(
    ("anchor_day", "feb_anchor"),
    [
        (28, utc(2026, 2, 28, 9, 30)),
        (29, utc(2026, 2, 28, 9, 30)),
        (30, utc(2026, 2, 28, 9, 30)),
        (31, utc(2026, 2, 28, 9, 30)),
    ],
)
def test_billing_cycle_anchor_29_to_31_in_february(anchor_day: int, feb_anchor: datetime) -> None:
    start_of_term = utc(2025, 12, anchor_day, 9, 30)
    assert cycle(utc(2026, 2, 28, 12), start_of_term)[0] == feb_anchor


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2027, 1, 5), utc(2026, 12, 15, 6), utc(2027, 1, 15, 6)),  # year rollover
        (utc(2026, 12, 20), utc(2026, 12, 15, 6), utc(2027, 1, 15, 6)),
        (utc(2027, 1, 15, 6), utc(2027, 1, 15, 6), utc(2027, 2, 15, 6)),  # exactly at the anchor
        (utc(2027, 1, 15, 5, 59, 59, 999999), utc(2026, 12, 15, 6), utc(2027, 1, 15, 6)),
    ],
)
def test_billing_cycle_year_rollover_and_boundaries(at: datetime, start: datetime, end: datetime) -> None:
    assert cycle(at, utc(2026, 6, 15, 6), utc(2027, 6, 15, 6)) == (start, end)


def test_billing_cycle_first_window_starts_at_period_start() -> None:
    assert cycle(utc(2026, 3, 10, 9, 30), MONTHLY.period_start, MONTHLY.period_end) == (
        utc(2026, 3, 10, 9, 30),
        utc(2026, 4, 10, 9, 30),
    )


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2026, 3, 20, 7, 59, 59), utc(2026, 3, 1), utc(2026, 3, 20, 8)),
        (utc(2026, 3, 20, 8), utc(2026, 3, 20, 8), utc(2026, 4, 20, 8)),  # the subscription starts
        (utc(2026, 2, 10), utc(2026, 2, 1), utc(2026, 3, 1)),  # start beyond next 1st: calendar month
    ],
)
def test_billing_cycle_future_start(at: datetime, start: datetime, end: datetime) -> None:
    assert cycle(at, FUTURE.period_start, FUTURE.period_end) == (start, end)


def test_billing_cycle_capped_at_period_end() -> None:
    # A subscription ending mid-cycle (e.g. cancelled) caps the window.
    assert cycle(utc(2026, 3, 18), utc(2026, 3, 10, 9, 30), utc(2026, 3, 25)) == (
        utc(2026, 3, 10, 9, 30),
        utc(2026, 3, 25),
    )


def test_billing_cycle_ignores_stale_period_end() -> None:
    assert cycle(utc(2026, 4, 12), MONTHLY.period_start, MONTHLY.period_end) == (
        utc(2026, 4, 10, 9, 30),
        utc(2026, 5, 10, 9, 30),
    )


def test_billing_cycle_without_period_end() -> None:
    assert cycle(AT, MONTHLY.period_start, None) == (utc(2026, 3, 10, 9, 30), utc(2026, 4, 10, 9, 30))


def test_billing_cycle_keeps_sub_second_anchor_time() -> None:
    start = utc(2026, 1, 5, 9, 30, 15, 250000)
    assert cycle(utc(2026, 2, 20), start) == (utc(2026, 2, 5, 9, 30, 15, 250000), utc(2026, 3, 5, 9, 30, 15, 250000))


# ------------------------------------------------------------------ boundaries and time zones


@pytest.mark.parametrize(("period", "reset", "anchor", "start", "end"), WORKED)
def test_event_at_window_end_belongs_to_next_window(
    period: str, reset: str | None, anchor: BillingAnchor | None, start: datetime, end: datetime
) -> None:
    next_start, next_end = window(period, reset, end, anchor)
    assert next_start == end and next_end is not None and next_end > end
    assert window(period, reset, end - timedelta(microseconds=1), anchor) == (start, end)


def test_non_utc_input_is_converted() -> None:
    new_york = timezone(timedelta(hours=-5))
    at = datetime(2026, 3, 18, 23, 30, tzinfo=new_york)  # 2026-03-19T04:30Z
    assert window("current_day", None, at) == (utc(2026, 3, 19), utc(2026, 3, 20))
    start, _ = window("current_day", None, at)
    assert start is not None and start.tzinfo == UTC


def test_anchor_in_other_zone_is_read_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    start = datetime(2026, 3, 1, 3, 0, tzinfo=tokyo)  # 2026-02-28T18:00Z
    assert cycle(utc(2026, 3, 18), start) == (utc(2026, 2, 28, 18), utc(2026, 3, 28, 18))


@pytest.mark.parametrize(
    "call",
    [
        lambda: window("current_day", None, datetime(2026, 3, 18)),
        lambda: window("all_time", None, datetime(2026, 3, 18)),
        lambda: window_start_key("current_week", None, datetime(2026, 3, 18)),
        lambda: reset_at("current_month", None, datetime(2026, 3, 18)),
        lambda: cycle(AT, datetime(2026, 3, 10)),
        lambda: cycle(AT, utc(2026, 3, 10), datetime(2026, 4, 10)),
    ],
)
def test_naive_datetimes_rejected(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("period", "reset"),
    [("current_year", None), ("billing_period", None), ("current_month", "end_of_month"), ("current_day", "weekly")],
)
def test_unknown_values_rejected(period: str, reset: str | None) -> None:
    with pytest.raises(ValueError, match="unknown"):
        window(period, reset, AT)
