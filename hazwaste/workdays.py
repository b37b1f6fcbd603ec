"""Chinese working-day arithmetic (statutory holidays and 调休 make-up working days).

Three sources, in this order:

1. the official schedules loaded from the database (``hazwaste.holidays``: the State
   Council's 国务院办公厅 notice per year, kept as data in ``hazwaste/data/holidays.csv`` and
   updatable by an administrator without a release), installed here by
   :func:`use_schedule`;
2. the ``chinese-calendar`` package, which knows each year up to its release (1.11: 2004–2026);
3. for a year neither knows, an estimate. We do not fall back to
plain Monday–Friday (that counted 1 January 2027 and Spring Festival 2027 as working days):
we *estimate* from the statutory holidays of 全国年节及纪念日放假办法 (2024 revision, in force
2025-01-01) — 元旦 1 day, 春节 4 days (除夕 to 正月初三), 清明 1 day, 劳动节 2 days (1–2 May),
端午 1 day, 中秋 1 day, 国庆 3 days (1–3 October) — on top of weekends. An estimate cannot
know the year's 调休 (bridging days and make-up Saturdays), so every date computed from it
is marked *provisional* (``official`` / ``exact`` False): callers show the mark, and the date
is recomputed once the year's schedule is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from lunardate import LunarDate

#: Days off of the Spring Festival, counted from 除夕 (the eve of 正月初一).
SPRING_FESTIVAL_DAYS = 4
#: 劳动节: 1 and 2 May; 国庆: 1 to 3 October (fixed Gregorian dates).
LABOUR_DAY_DAYS = 2
NATIONAL_DAY_DAYS = 3


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> frozenset[date]:
    """The statutory days off of ``year`` (without weekends and 调休), for the estimate.

    Lunar holidays come from the lunar calendar (``lunardate``); 清明 is the day of the
    清明 solar term. A Spring Festival whose 除夕 falls in December of the year before
    counts in that year.
    """
    days: set[date] = {date(year, 1, 1)}
    for lunar_year in (year, year + 1):
        new_year = LunarDate(lunar_year, 1, 1).to_solar_date()
        eve = new_year - timedelta(days=1)
        days.update(
            d
            for d in (eve + timedelta(days=n) for n in range(SPRING_FESTIVAL_DAYS))
            if d.year == year
        )
    terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
    days.update(day for day, name in terms if name == "清明")
    days.update(date(year, 5, 1 + n) for n in range(LABOUR_DAY_DAYS))
    days.add(LunarDate(year, 5, 5).to_solar_date())  # 端午
    days.add(LunarDate(year, 8, 15).to_solar_date())  # 中秋
    days.update(date(year, 10, 1 + n) for n in range(NATIONAL_DAY_DAYS))
    return frozenset(days)


#: Official schedules by year: (days off, make-up working days); see :func:`use_schedule`.
_OFFICIAL: dict[int, tuple[frozenset[date], frozenset[date]]] = {}


def use_schedule(years: Mapping[int, tuple[Iterable[date], Iterable[date]]]) -> None:
    """Install the official schedules (year → days off, make-up working days); every year
    not named falls back to the library, then to the estimate."""
    fresh = {year: (frozenset(off), frozenset(on)) for year, (off, on) in years.items()}
    _OFFICIAL.clear()
    _OFFICIAL.update(fresh)


def official_years() -> frozenset[int]:
    """The years whose official schedule is installed (from the database)."""
    return frozenset(_OFFICIAL)


def library_covers(year: int) -> bool:
    """Whether the ``chinese-calendar`` package knows ``year``."""
    if not 1 <= year <= 9999:
        return False
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> tuple[bool, bool]:
    """Return ``(is_workday, from_official_calendar)``; for a year without the official
    schedule, the estimate (weekends and statutory holidays off) and ``False``."""
    schedule = _OFFICIAL.get(day.year)
    if schedule is not None:
        off, on = schedule
        return day in on or (day.weekday() < 5 and day not in off), True
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5 and day not in statutory_holidays(day.year), False


def add_working_days(start: date, days: int) -> tuple[date, bool]:
    """The date ``days`` working days after ``start`` (``start`` itself not counted).

    Returns ``(due_date, exact)``; ``exact`` is False (the date is provisional) if any day
    in between fell in a year the official calendar does not cover yet.
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
