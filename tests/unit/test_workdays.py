"""Working days: the official schedule where the calendar has it, and past its end an
estimate from the statutory holidays, marked provisional — never plain Monday–Friday."""

from __future__ import annotations

from datetime import date

import pytest

from hazwaste.manifests.lifecycle import RECEIPT_DUE_WORKING_DAYS
from hazwaste.workdays import add_working_days, is_workday, statutory_holidays


def test_official_years_use_the_schedule_with_make_up_days():
    # 2026: Spring Festival 15–23 February off; Saturday 14 and 28 February are 调休 workdays.
    assert is_workday(date(2026, 2, 16)) == (False, True)
    assert is_workday(date(2026, 2, 14)) == (True, True)
    assert add_working_days(date(2026, 2, 13), 1) == (date(2026, 2, 14), True)


def test_late_december_2026_does_not_count_new_year_as_a_working_day():
    # Delivered Monday 28 December: 29, 30, 31 Dec (official), 1 Jan 2027 off, 4, 5 Jan.
    due, exact = add_working_days(date(2026, 12, 28), RECEIPT_DUE_WORKING_DAYS)
    assert due == date(2027, 1, 5)
    assert exact is False  # computed partly from the estimate: provisional


def test_spring_festival_2027_is_off_in_the_estimate():
    # 除夕 Friday 5 February 2027, 初一 to 初三 6–8 February.
    assert {date(2027, 2, d) for d in (5, 6, 7, 8)} <= statutory_holidays(2027)
    # Delivered Thursday 4 February: 5 and 8 Feb are holidays, then 9, 10, 11, 12, 15.
    assert add_working_days(date(2027, 2, 4), RECEIPT_DUE_WORKING_DAYS) == (
        date(2027, 2, 15),
        False,
    )


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        # The statutory days of 2026 by the estimate, checked against the official schedule.
        (
            2026,
            {
                date(2026, 1, 1),
                date(2026, 2, 16),
                date(2026, 2, 17),
                date(2026, 2, 18),
                date(2026, 2, 19),
                date(2026, 4, 5),
                date(2026, 5, 1),
                date(2026, 5, 2),
                date(2026, 6, 19),
                date(2026, 9, 25),
                date(2026, 10, 1),
                date(2026, 10, 2),
                date(2026, 10, 3),
            },
        ),
    ],
)
def test_the_estimate_finds_the_statutory_days_of_a_known_year(year, expected):
    import chinese_calendar

    assert statutory_holidays(year) == expected
    # Each one is a day off in the official schedule too.
    assert all(chinese_calendar.is_holiday(day) for day in expected)


def test_an_eve_in_the_year_before_counts_there():
    # 正月初一 2028 is 26 January; 除夕 is 25 January 2028, nothing of it in 2027's December.
    assert date(2028, 1, 25) in statutory_holidays(2028)
    assert not any(d.month == 12 for d in statutory_holidays(2027))
