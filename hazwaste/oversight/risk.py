"""Risk rating of enterprises from their flag history (support for 环境信用评价).

The score is transparent: every number is a named constant below, and the page shows them.

For each flag naming the enterprise (as producer, carrier or receiver)::

    points = SEVERITY_WEIGHT[severity] × case_factor + late_response_penalty
    if the flag was first seen more than DECAY_AFTER_DAYS ago: points × DECAY_FACTOR

    case_factor = REFERRED_FACTOR      if the case was referred (移送公安)
                  FINDING_FACTOR[f]    if the case was closed with finding f
                                       (violation ×2, explained ×0.5, false alarm ×0)
                  OPEN_FACTOR          otherwise (new, under investigation, closed without
                                       a finding)
    late_response_penalty = LATE_RESPONSE_POINTS when the enterprise gave no response within
                  RESPONSE_DAYS of the flag's first sighting (and that time has passed);
                  none for a false alarm.

    score = Σ points (exact decimals); grade = the first GRADES entry whose upper bound
    the score stays below: 环保诚信 0–4, 良好 5–14, 警示 15–39, 不良 ≥ 40.

Scores can be fractional (explained ×0.5, decay ×0.5); the bounds are ``score < 5``,
``score < 15``, ``score < 40``, so 4.5 is still 环保诚信 and 39.5 still 警示.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization
from hazwaste.cases.models import FlagResponse
from hazwaste.reconciliation.models import CaseFinding, CaseStatus, Flag, Severity

SEVERITY_WEIGHT: dict[str, Decimal] = {
    Severity.LOW.value: Decimal(1),
    Severity.MEDIUM.value: Decimal(3),
    Severity.HIGH.value: Decimal(8),
    Severity.CRITICAL.value: Decimal(20),
}
FINDING_FACTOR: dict[str, Decimal] = {
    CaseFinding.VIOLATION.value: Decimal(2),
    CaseFinding.EXPLAINED.value: Decimal("0.5"),
    CaseFinding.FALSE_ALARM.value: Decimal(0),
}
REFERRED_FACTOR = Decimal(3)
OPEN_FACTOR = Decimal(1)
RESPONSE_DAYS = 15
LATE_RESPONSE_POINTS = Decimal(2)
DECAY_AFTER_DAYS = 365
DECAY_FACTOR = Decimal("0.5")

#: (grade code, upper bound exclusive or None, label). Scores below 5 are 环保诚信, etc.
GRADES: list[tuple[str, Decimal | None]] = [
    ("trustworthy", Decimal(5)),
    ("good", Decimal(15)),
    ("warning", Decimal(40)),
    ("poor", None),
]
GRADE_LABELS = {
    "trustworthy": _l("Environmentally trustworthy"),
    "good": _l("Good"),
    "warning": _l("Warning"),
    "poor": _l("Poor"),
}


def grade(score: Decimal) -> str:
    for code, bound in GRADES:
        if bound is None or score < bound:
            return code
    raise AssertionError("unreachable")  # pragma: no cover


def case_factor(case_status: str, case_finding: str | None) -> Decimal:
    if case_status == CaseStatus.REFERRED.value:
        return REFERRED_FACTOR
    if case_status == CaseStatus.CLOSED.value and case_finding in FINDING_FACTOR:
        return FINDING_FACTOR[case_finding]
    return OPEN_FACTOR


def answered_late(
    first_seen_at: datetime, first_response_at: datetime | None, now: datetime
) -> bool:
    """No answer from the enterprise within ``RESPONSE_DAYS`` of the flag's first sighting
    (either none yet and the time is up, or one that came after the deadline)."""
    deadline = first_seen_at + timedelta(days=RESPONSE_DAYS)
    if first_response_at is None:
        return now > deadline
    return first_response_at > deadline


def flag_points(
    *,
    severity: str,
    case_status: str,
    case_finding: str | None,
    first_seen_at: datetime,
    first_response_at: datetime | None,
    now: datetime,
) -> Decimal:
    """One flag's contribution to an enterprise's score (see the module docstring)."""
    factor = case_factor(case_status, case_finding)
    points = SEVERITY_WEIGHT[severity] * factor
    late = answered_late(first_seen_at, first_response_at, now)
    if late and case_finding != CaseFinding.FALSE_ALARM.value:
        points += LATE_RESPONSE_POINTS
    if now - first_seen_at > timedelta(days=DECAY_AFTER_DAYS):
        points *= DECAY_FACTOR
    return points


@dataclass
class Rating:
    organization_id: int
    name: str
    region_code: str
    score: Decimal = Decimal(0)
    flags: int = 0
    open_flags: int = 0
    late_responses: int = 0
    grade: str = "trustworthy"
    by_severity: dict[str, int] = field(default_factory=dict)


def ratings(
    session: Session, now: datetime, prefix: str, organization_id: int | None = None
) -> list[Rating]:
    """The rating of every organization in the region ``prefix`` (all of them, flagged or
    not), highest score first. One query for the flags with each one's first response by
    the enterprise concerned; the arithmetic is :func:`flag_points`."""
    orgs_q = select(Organization).where(Organization.region_code.startswith(prefix))
    if organization_id is not None:
        orgs_q = orgs_q.where(Organization.id == organization_id)
    result = {
        o.id: Rating(o.id, o.name, o.region_code) for o in session.scalars(orgs_q.order_by("id"))
    }
    if not result:
        return []
    org_ids = list(result)
    # One row per (flag, party inside the scope): a flag counts against every party it names.
    rows: list[Any] = []
    for column in (Flag.producer_id, Flag.carrier_id, Flag.receiver_id):
        first_response = (
            select(func.min(FlagResponse.created_at))
            .where(FlagResponse.flag_id == Flag.id, FlagResponse.organization_id == column)
            .scalar_subquery()
        )
        rows.extend(
            session.execute(
                select(
                    column.label("org_id"),
                    Flag.id,
                    Flag.severity,
                    Flag.status,
                    Flag.case_status,
                    Flag.case_finding,
                    Flag.first_seen_at,
                    first_response.label("first_response_at"),
                ).where(column.in_(org_ids))
            ).all()
        )
    seen: set[tuple[int, int]] = set()
    for row in rows:
        if (row.org_id, row.id) in seen:  # the same organization in two roles counts once
            continue
        seen.add((row.org_id, row.id))
        rating = result[row.org_id]
        first_response = row.first_response_at
        rating.score += flag_points(
            severity=row.severity.value,
            case_status=row.case_status.value,
            case_finding=row.case_finding.value if row.case_finding else None,
            first_seen_at=row.first_seen_at,
            first_response_at=first_response,
            now=now,
        )
        rating.flags += 1
        rating.open_flags += row.status.value == "open"
        rating.by_severity[row.severity.value] = rating.by_severity.get(row.severity.value, 0) + 1
        rating.late_responses += answered_late(row.first_seen_at, first_response, now)
    for rating in result.values():
        rating.score = rating.score.normalize() if rating.score else Decimal(0)
        rating.grade = grade(rating.score)
    return sorted(result.values(), key=lambda r: (-r.score, r.name))
