"""Checks before the truck leaves: what must still hold on the day the waste is handed over,
not only on the planned date (《危险废物转移管理办法》, 令23号).

- At submission and again at pickup: the receiver's licensed capacity left for the year —
  the largest annual capacity among its licences valid that day, minus what it received this
  (China) calendar year, minus what is on the way to it (picked up or delivered, not yet
  received) — must hold this manifest (declared at submission, weighed at pickup).
- At pickup, on the actual date: the carrier's transport permit, the qualification of the
  driver who takes the load, and the receiver's licence for every line's code.

Each refusal names the limit and the numbers. At submission the capacity is one statement;
at pickup the checks are conditions of the status ``UPDATE`` itself (no statement while they
hold), and only a refused pickup reads why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import User
from hazwaste.db import grams, kg_from_grams
from hazwaste.labels import tonnes
from hazwaste.manifests.models import Manifest, ManifestLine, ManifestStatus
from hazwaste.manifests.services import CHINA_TZ
from hazwaste.permits import services as permits
from hazwaste.permits.models import CarrierPermit, Driver, Licence

#: Limits other domains keep on what a manifest may carry (the management plan):
#: ``fn(session, manifest, on_date, weights by waste code) -> messages`` naming the numbers.
Limit = Callable[[Session, Manifest, date, dict[str, Decimal]], list[str]]
_LIMITS: dict[str, Limit] = {}


def register_limit(name: str, fn: Limit) -> None:
    """Add a limit checked at submission and at pickup (``PLAN_CHECK``: warn or block)."""
    _LIMITS[name] = fn


def limit_messages(
    session: Session, manifest: Manifest, on_date: date, weights: dict[str, Decimal]
) -> list[str]:
    """Every registered limit's messages for ``weights`` (kg per code) on ``on_date``."""
    return [m for fn in _LIMITS.values() for m in fn(session, manifest, on_date, weights)]


#: On the way to the receiver: its capacity is already spoken for.
ON_THE_WAY = (ManifestStatus.IN_TRANSIT, ManifestStatus.DELIVERED)


@dataclass(frozen=True)
class CapacityLeft:
    year: int
    capacity_kg: Decimal
    received_kg: Decimal
    on_the_way_kg: Decimal

    @property
    def left_kg(self) -> Decimal:
        return self.capacity_kg - self.received_kg - self.on_the_way_kg


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime.combine(date(year, 1, 1), time(), CHINA_TZ)
    end = datetime.combine(date(year + 1, 1, 1), time(), CHINA_TZ)
    return start, end


def _capacity_columns(
    receiver_id: int, on_date: date, exclude_manifest_id: int | None
) -> tuple[Any, Any, Any]:
    """Scalar subqueries: the receiver's largest annual capacity valid on ``on_date``, the
    grams it received in that (China) year, and the grams on the way to it."""
    start, end = _year_bounds(on_date.year)
    capacity = (
        select(grams(func.max(grams(Licence.annual_capacity_kg))))
        .where(
            Licence.organization_id == receiver_id,
            Licence.revoked_at.is_(None),
            Licence.valid_from <= on_date,
            Licence.valid_to >= on_date,
        )
        .scalar_subquery()
    )
    received = (
        select(grams(func.coalesce(func.sum(grams(ManifestLine.accepted_kg)), 0)))
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(
            Manifest.receiver_id == receiver_id,
            Manifest.received_at >= start,
            Manifest.received_at < end,
        )
        .scalar_subquery()
    )
    weighed = func.coalesce(grams(ManifestLine.loaded_kg), grams(ManifestLine.declared_kg))
    on_the_way = (
        select(grams(func.coalesce(func.sum(weighed), 0)))
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(
            Manifest.receiver_id == receiver_id,
            Manifest.status.in_(ON_THE_WAY),
            Manifest.id != (exclude_manifest_id or 0),
        )
        .scalar_subquery()
    )
    return capacity, received, on_the_way


def _capacity(year: int, row: Any) -> CapacityLeft | None:
    capacity, received, on_the_way = row
    if capacity is None:
        return None
    return CapacityLeft(
        year, kg_from_grams(capacity), kg_from_grams(received), kg_from_grams(on_the_way)
    )


def capacity_left(
    session: Session, receiver_id: int, on_date: date, exclude_manifest_id: int | None = None
) -> CapacityLeft | None:
    """The receiver's capacity left in ``on_date``'s year; None if no licence is valid that
    day (the licence check says so). One statement."""
    row = session.execute(
        select(*_capacity_columns(receiver_id, on_date, exclude_manifest_id))
    ).one()
    return _capacity(on_date.year, tuple(row))


def capacity_message(left: CapacityLeft, adding_kg: Decimal) -> str | None:
    """The refusal if ``adding_kg`` does not fit in what is left, else None."""
    if adding_kg <= left.left_kg:
        return None
    return _(
        "The receiver's licensed capacity for %(year)s is %(capacity)s t: %(received)s t "
        "received and %(on_the_way)s t on the way leave %(left)s t, less than the "
        "%(this)s t of this manifest.",
        year=left.year,
        capacity=tonnes(left.capacity_kg),
        received=tonnes(left.received_kg),
        on_the_way=tonnes(left.on_the_way_kg),
        left=tonnes(max(left.left_kg, Decimal(0))),
        this=tonnes(adding_kg),
    )


def submission_errors(session: Session, manifest: Manifest, on_date: date) -> dict[str, list[str]]:
    """At submission: the receiver's capacity on the planned date holds the declared total."""
    left = capacity_left(session, manifest.receiver_id, on_date, manifest.id)
    message = left and capacity_message(left, manifest.declared_total_kg)
    return {"receiver_id": [message]} if message else {}


def _permit_valid(manifest: Manifest, today: date) -> Any:
    return exists().where(
        CarrierPermit.organization_id == manifest.carrier_id,
        CarrierPermit.revoked_at.is_(None),
        CarrierPermit.valid_from <= today,
        CarrierPermit.valid_to >= today,
    )


def _qualified_to(manifest: Manifest, user: User) -> Any:
    """The end of the acting driver's qualification (NULL: not a registered driver)."""
    return (
        select(Driver.qualification_valid_to)
        .where(Driver.user_id == user.id, Driver.organization_id == manifest.carrier_id)
        .scalar_subquery()
    )


def _codes(manifest: Manifest) -> list[str]:
    return sorted({line.waste_code for line in manifest.lines})


def pickup_guard(manifest: Manifest, user: User, today: date, loaded_kg: Decimal) -> list[Any]:
    """The pickup's checks on ``today`` as conditions of its status ``UPDATE`` (no statement
    of their own while they hold; :func:`pickup_errors` explains a failure with the same
    expressions)."""
    capacity, received, on_the_way = _capacity_columns(manifest.receiver_id, today, manifest.id)
    qualified_to = _qualified_to(manifest, user)
    return [
        _permit_valid(manifest, today),
        or_(qualified_to.is_(None), qualified_to >= today),
        *(permits.covers_clause(manifest.receiver_id, c, today) for c in _codes(manifest)),
        func.coalesce(capacity, 0) - received - on_the_way
        >= int((loaded_kg * 1000).to_integral_value()),
    ]


def pickup_errors(
    session: Session, manifest: Manifest, user: User, today: date, loaded_kg: Decimal
) -> list[str]:
    """At pickup, on ``today``: what of permit, driver qualification, licence per code and
    capacity fails, with the numbers — read in one statement (only after
    :func:`pickup_guard` stopped the pickup)."""
    codes = _codes(manifest)
    row = session.execute(
        select(
            _permit_valid(manifest, today),
            _qualified_to(manifest, user),
            *_capacity_columns(manifest.receiver_id, today, manifest.id),
            *(permits.covers_clause(manifest.receiver_id, c, today) for c in codes),
        )
    ).one()
    messages: list[str] = []
    if not row[0]:
        messages.append(
            _("The carrier has no transport permit valid today (%(d)s).", d=today.isoformat())
        )
    if row[1] is not None and row[1] < today:
        messages.append(
            _(
                "Your qualification certificate expired on %(d)s: another driver must take "
                "this load.",
                d=row[1].isoformat(),
            )
        )
    for code, ok in zip(codes, row[5:], strict=True):
        if not ok:
            messages.append(
                _(
                    "The receiver's licence does not cover %(code)s today (%(d)s).",
                    code=code,
                    d=today.isoformat(),
                )
            )
    left = _capacity(today.year, tuple(row[2:5]))
    message = left and capacity_message(left, loaded_kg)
    if message:
        messages.append(message)
    return messages
