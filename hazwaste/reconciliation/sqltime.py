"""Date and time arithmetic in SQL that reads the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, func, literal_column, type_coerce
from sqlalchemy.orm import Session

SECONDS_PER_DAY = 86400


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def epoch_seconds(session: Session, column: Any) -> Any:
    """Seconds since 1970 of a timestamp column (UTC as stored)."""
    if dialect(session) == "postgresql":
        return func.extract("epoch", column)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"; julianday reads it as UTC.
    return type_coerce((func.julianday(column) - 2440587.5) * SECONDS_PER_DAY, Float)


def day_number(session: Session, column: Any) -> Any:
    """Whole days since 1970 of a DATE column (for comparing dates with day offsets)."""
    if dialect(session) == "postgresql":
        return type_coerce(column - literal_column("DATE '1970-01-01'"), Integer)
    return type_coerce(func.julianday(column) - 2440587.5, Float)


def china_date(session: Session, column: Any) -> Any:
    """The China-time calendar date of a UTC timestamp column."""
    from sqlalchemy import Date, cast, text

    if dialect(session) == "postgresql":
        return cast(func.timezone("Asia/Shanghai", column), Date)
    return type_coerce(func.date(column, text("'+8 hours'")), Date)


def distance_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance (haversine, Earth radius 6371 km) between two SQL points."""
    dlat = func.radians(lat2 - lat1) / 2
    dlon = func.radians(lon2 - lon1) / 2
    a = func.sin(dlat) * func.sin(dlat) + func.cos(func.radians(lat1)) * func.cos(
        func.radians(lat2)
    ) * func.sin(dlon) * func.sin(dlon)
    return 2 * 6371.0 * func.asin(func.sqrt(a))


def month_key(session: Session, column: Any) -> Any:
    """``'YYYY-MM'`` of a DATE column."""
    from sqlalchemy import String

    if dialect(session) == "postgresql":
        return type_coerce(func.to_char(column, "YYYY-MM"), String)
    return type_coerce(func.strftime("%Y-%m", column), String)
