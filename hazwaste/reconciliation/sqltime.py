"""Date and time arithmetic in SQL that reads the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, func, type_coerce
from sqlalchemy.orm import Session

SECONDS_PER_DAY = 86400
CHINA = ZoneInfo("Asia/Shanghai")


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def epoch_seconds(session: Session, column: Any) -> Any:
    """Seconds since 1970 of a timestamp column (UTC as stored)."""
    if dialect(session) == "postgresql":
        return func.extract("epoch", column)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"; julianday reads it as UTC.
    return type_coerce((func.julianday(column) - 2440587.5) * SECONDS_PER_DAY, Float)


def china_date(session: Session, column: Any) -> Any:
    """The China-time calendar date of a UTC timestamp column."""
    from sqlalchemy import Date, cast, text

    if dialect(session) == "postgresql":
        return cast(func.timezone("Asia/Shanghai", column), Date)
    return type_coerce(func.date(column, text("'+8 hours'")), Date)


def month_key(session: Session, column: Any) -> Any:
    """``'YYYY-MM'`` of a DATE column."""
    from sqlalchemy import String

    if dialect(session) == "postgresql":
        return type_coerce(func.to_char(column, "YYYY-MM"), String)
    return type_coerce(func.strftime("%Y-%m", column), String)


def china_day_start(session: Session, day: Any, days: int = 0) -> Any:
    """The UTC instant at which the China-time calendar day ``day`` (+ ``days``) begins, as a
    value comparable with stored timestamps — so rules compare a timestamp column with a few
    precomputed bounds instead of converting every row to a local date."""
    from sqlalchemy import DateTime, cast, text

    if dialect(session) == "postgresql":
        midnight = cast(day, DateTime) + text(f"INTERVAL '{int(days)} days'")
        return func.timezone("Asia/Shanghai", midnight)
    # Same text layout as stored timestamps ("YYYY-MM-DD HH:MM:SS.ffffff"), so that string
    # comparison is chronological.
    return type_coerce(
        func.strftime("%Y-%m-%d %H:%M:%S", day, f"{int(days)} days", "-8 hours") + ".000000",
        DateTime,
    )


def group_key(column: Any) -> Any:
    """An integer column as a grouping key that no index can serve. Grouping by a bare
    ``receiver_id`` makes SQLite walk the (receiver, status) index in group order and fetch
    every manifest row at random — several times slower than scanning the lines and sorting
    the groups. ``+ 0`` changes nothing on PostgreSQL (hash aggregate either way)."""
    return type_coerce(column + 0, Integer)


def china_midnight(day: date, days: int = 0) -> datetime:
    """The UTC instant at which China-time day ``day`` (+ ``days``) begins: bounds for a
    timestamp column computed once in Python instead of a date conversion per row."""
    local = datetime.combine(day + timedelta(days=days), time(), CHINA)
    return local.astimezone(UTC)


def china_day_end(session: Session, day: Any) -> Any:
    """The UTC instant at which China-time day ``day`` (a DATE column) ends, per row.

    On SQLite this is text concatenation: China time is UTC+8 all year (no daylight saving),
    so 24:00 in China on day D is 16:00 UTC on the same date D, written in the stored
    timestamp layout — several times cheaper than converting every row with julianday().
    """
    from sqlalchemy import DateTime, cast, text

    if dialect(session) == "postgresql":
        return func.timezone("Asia/Shanghai", cast(day, DateTime) + text("INTERVAL '1 day'"))
    from sqlalchemy import String

    return type_coerce(type_coerce(day, String) + " 16:00:00.000000", DateTime)


def scanned(session: Session, column: Any) -> Any:
    """A column compared without its index. When a condition matches most rows, SQLite still
    likes to walk the column's index and fetch every row at random, several times slower
    than a plain table scan; wrapping the column in ``likely()`` (which returns it unchanged)
    takes that index out of the planner's choices. PostgreSQL plans this well on its own."""
    if dialect(session) == "postgresql":
        return column
    return type_coerce(func.likely(column), column.type)


def month_start(session: Session, column: Any, china_time: bool = False) -> Any:
    """The first day of the month of a DATE column, or (``china_time``) of the China-time
    date of a UTC timestamp column: the key of the monthly totals."""
    from sqlalchemy import Date, cast, text

    if dialect(session) == "postgresql":
        value = func.timezone("Asia/Shanghai", column) if china_time else column
        return cast(func.date_trunc("month", value), Date)
    if china_time:
        return type_coerce(func.strftime("%Y-%m-01", column, text("'+8 hours'")), Date)
    return type_coerce(func.strftime("%Y-%m-01", column), Date)


def first_of_month(day: date, months: int = 0) -> date:
    """The first day of ``day``'s month, moved by ``months``."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_last_day(session: Session, first: Any) -> Any:
    """The last day of the month whose first day is the DATE column ``first``."""
    from sqlalchemy import Date, cast, text

    if dialect(session) == "postgresql":
        return cast(first + text("INTERVAL '1 month'") - text("INTERVAL '1 day'"), Date)
    return type_coerce(func.date(first, "+1 months", "-1 days"), Date)
