"""Declarative base, column types and helpers shared by every domain's models.

Quantities are exact: :class:`Quantity` stores kilograms as an integer number of grams, so
SQL sums are exact integers on SQLite and PostgreSQL alike and Python sees ``Decimal`` kg.
Times are stored in UTC and always come back timezone-aware.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Enum, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

GRAMS_PER_KG = Decimal(1000)
KG_PER_TONNE = Decimal(1000)


class QuantityError(ValueError):
    """A quantity cannot be stored exactly (more precise than one gram, or not a number)."""


class Quantity(TypeDecorator[Decimal]):
    """Kilograms as ``Decimal`` in Python, integer grams in the database.

    Binding a value finer than one gram raises :class:`QuantityError` instead of rounding:
    the schemas validate precision first, so this only fires on a programming error.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool):  # Decimal(True) would be 1 kg
            raise QuantityError(f"not a quantity: {value!r}")
        try:
            grams = Decimal(value) * GRAMS_PER_KG
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise QuantityError(f"not a quantity: {value!r}") from exc
        if not grams.is_finite():  # NaN and infinities have no integer number of grams
            raise QuantityError(f"not a quantity: {value!r}")
        if grams != grams.to_integral_value():
            raise QuantityError(f"quantity finer than 1 g: {value!r}")
        return int(grams)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / GRAMS_PER_KG).quantize(Decimal("0.001"))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware datetime (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC. Services receive ``now`` instead of calling this."""
    return datetime.now(UTC)


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """An enum column stored as its values (readable in SQL), with a named CHECK constraint."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base with the project's constraint naming convention."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            Decimal: Quantity(),
            str: String(),
        },
    )


def configure_sqlite(engine: Any) -> None:
    """Make SQLite behave like a real transactional database for this app.

    pysqlite's own transaction handling breaks SAVEPOINTs and defers locking, so we take
    control (per the SQLAlchemy docs): ``BEGIN IMMEDIATE`` takes the write lock at the start,
    which makes concurrent lifecycle steps wait and then see the winner's status instead of
    failing with "database is locked". WAL keeps readers unblocked; foreign keys are enforced.
    """
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A connection opened with execution option ``read_only`` only reads (the
        # reconciliation workers): a deferred BEGIN lets it read beside the one writer.
        if conn.get_execution_options().get("read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def grams(expr: Any) -> Any:
    """Treat a SQL expression over :class:`Quantity` columns as raw integer grams.

    Aggregates such as ``SUM(CASE … quantity_kg …)`` would otherwise be converted as if
    they were one quantity; use this and :func:`kg_from_grams` for exact arithmetic in SQL.
    """
    from sqlalchemy import type_coerce

    return type_coerce(expr, BigInteger)


def kg_from_grams(value: Any) -> Decimal:
    return (Decimal(int(value or 0)) / GRAMS_PER_KG).quantize(Decimal("0.001"))
