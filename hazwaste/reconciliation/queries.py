"""Who sees which flags, and the filtered flag list shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, false, or_, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization, User
from hazwaste.errors import NotFound
from hazwaste.reconciliation.models import Flag, FlagStatus, Severity


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


def list_query(user: User, filters: FlagFilters) -> Select[Any]:
    stmt = select(Flag).where(visible_filter(user))
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
    return stmt.order_by(Flag.status, severity_rank(), Flag.last_seen_at.desc(), Flag.id.desc())


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
