"""Chinese working-day arithmetic (statutory holidays and 调休 make-up Saturdays).

Uses the ``chinese-calendar`` package, which knows each year once the State Council has
published its holiday schedule (usually in November for the next year). For a year it does
not know yet we fall back to Monday–Friday and say so in the result, so a deadline is never
silently wrong: callers show the flag and the deadline is recomputed once the data exists.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar


def is_workday(day: date) -> tuple[bool, bool]:
    """Return ``(is_workday, from_official_calendar)``."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_working_days(start: date, days: int) -> tuple[date, bool]:
    """The date ``days`` working days after ``start`` (``start`` itself not counted).

    Returns ``(due_date, exact)``; ``exact`` is False if any day in between fell in a year the
    official calendar does not cover yet.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    current = start
    exact = True
    remaining = days
    while remaining:
        current += timedelta(days=1)
        workday, official = is_workday(current)
        exact = exact and official
        if workday:
            remaining -= 1
    return current, exact


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if ``end <= start``)."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_workday(current)[0]:
            count += 1
    return count
