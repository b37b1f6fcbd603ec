"""Who sees which flags, and the filtered flag list shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from hazwaste.accounts.models import Organization, User
from hazwaste.errors import NotFound
from hazwaste.reconciliation.models import CaseStatus, Flag, FlagStatus, Severity


def visible_filter(user: User) -> ColumnElement[bool]:
    """Flags of the user's own organization, or — for a regulator — flags touching an
    organization inside its jurisdiction."""
    if not user.active:
        return false()
    if user.organization_id is not None and user.org_approved:
        org = user.organization_id
        return or_(Flag.producer_id == org, Flag.carrier_id == org, Flag.receiver_id == org)
    if user.regulator_body is not None:
        inside = select(Organization.id).where(
            Organization.region_code.startswith(user.regulator_body.jurisdiction_prefix)
        )
        return or_(
            Flag.producer_id.in_(inside), Flag.carrier_id.in_(inside), Flag.receiver_id.in_(inside)
        )
    return false()


@dataclass
class FlagFilters:
    rule: str | None = None
    severity: str | None = None
    status: str | None = None
    region: str | None = None  # a region code prefix inside the user's own scope
    period: str | None = None
    organization_id: int | None = None
    # The regulator's case queue (see hazwaste.cases):
    case_status: str | None = None
    assignee: str | None = None  # "mine", "none" or a user id
    first_seen_before: datetime | None = None  # age filter: seen at least N days ago
    min_kg: Decimal | None = None
    sort: str | None = None  # one of SORTS; default: open first, most severe, newest


SORTS = ("severity", "age", "tonnage", "rule", "enterprise")


FILTER_KEYS = (
    "rule",
    "severity",
    "status",
    "region",
    "period",
    "organization_id",
    "case_status",
    "assignee",
    "sort",
)


def filters_from_args(args: dict[str, Any], now: datetime) -> FlagFilters:
    """FlagFilters from arguments loaded by ``FlagFilterSchema`` (age and tonnage converted)."""
    filters = FlagFilters(**{k: args.get(k) for k in FILTER_KEYS})
    if args.get("age_days") is not None:
        filters.first_seen_before = now - timedelta(days=args["age_days"])
    if args.get("min_tonnes") is not None:
        filters.min_kg = args["min_tonnes"] * 1000
    return filters


def list_query(user: User, filters: FlagFilters) -> Select[Any]:
    """The flags ``user`` may see that match ``filters``, in the chosen order (id breaks
    ties so pages are stable)."""
    stmt = _filtered(user, filters)
    if filters.case_status:
        stmt = stmt.where(Flag.case_status == CaseStatus(filters.case_status))
    return _ordered(stmt, filters.sort)


def case_counts(session: Session, user: User, filters: FlagFilters) -> dict[str, int]:
    """Count per case status under every filter except the case status itself (the queue
    header shows them as tabs)."""
    stmt = (
        _filtered(user, filters)
        .with_only_columns(Flag.case_status, func.count())
        .group_by(Flag.case_status)
    )
    counts = {s.value: 0 for s in CaseStatus}
    for status, count in session.execute(stmt.order_by(None)):
        counts[CaseStatus(status).value] = count
    return counts


def _ordered(stmt: Select[Any], sort: str | None) -> Select[Any]:
    if sort == "severity":
        return stmt.order_by(severity_rank(), Flag.first_seen_at, Flag.id)
    if sort == "age":
        return stmt.order_by(Flag.first_seen_at, Flag.id)
    if sort == "tonnage":
        return stmt.order_by(Flag.quantity_kg.desc().nulls_last(), Flag.id)
    if sort == "rule":
        return stmt.order_by(Flag.rule, severity_rank(), Flag.id)
    if sort == "enterprise":
        producer = aliased(Organization)
        return stmt.outerjoin(producer, producer.id == Flag.producer_id).order_by(
            producer.name.nulls_last(), Flag.id
        )
    return stmt.order_by(Flag.status, severity_rank(), Flag.last_seen_at.desc(), Flag.id.desc())


def _filtered(user: User, filters: FlagFilters) -> Select[Any]:
    stmt = select(Flag).where(visible_filter(user))
    if filters.assignee == "mine":
        stmt = stmt.where(Flag.assignee_id == user.id)
    elif filters.assignee == "none":
        stmt = stmt.where(Flag.assignee_id.is_(None))
    elif filters.assignee and filters.assignee.isdigit():
        stmt = stmt.where(Flag.assignee_id == int(filters.assignee))
    if filters.first_seen_before is not None:
        stmt = stmt.where(Flag.first_seen_at <= filters.first_seen_before)
    if filters.min_kg is not None:
        stmt = stmt.where(Flag.quantity_kg >= filters.min_kg)
    if filters.rule:
        stmt = stmt.where(Flag.rule == filters.rule)
    if filters.severity:
        stmt = stmt.where(Flag.severity == Severity(filters.severity))
    if filters.status:
        stmt = stmt.where(Flag.status == FlagStatus(filters.status))
    if filters.period:
        stmt = stmt.where(Flag.period.startswith(filters.period))
    if filters.organization_id:
        oid = filters.organization_id
        stmt = stmt.where(
            or_(Flag.producer_id == oid, Flag.carrier_id == oid, Flag.receiver_id == oid)
        )
    if filters.region:
        inside = select(Organization.id).where(Organization.region_code.startswith(filters.region))
        stmt = stmt.where(
            or_(
                Flag.producer_id.in_(inside),
                Flag.carrier_id.in_(inside),
                Flag.receiver_id.in_(inside),
            )
        )
    return stmt


def severity_rank() -> Any:
    """Most severe first (the stored values do not sort that way alphabetically)."""
    return case({s.value: i for i, s in enumerate(reversed(list(Severity)))}, value=Flag.severity)


def get_visible(session: Session, user: User, flag_id: int) -> Flag:
    flag = session.scalar(select(Flag).where(Flag.id == flag_id, visible_filter(user)))
    if flag is None:
        raise NotFound()
    return flag


def evidence(flag: Flag) -> dict[str, Any]:
    import json

    return dict(json.loads(flag.evidence or "{}"))
