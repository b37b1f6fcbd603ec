"""Management plans (管理计划): rows per producer, year and waste code; CSV import; plan
versus actual; the producer's supervision tier.

A plan row says how much of one waste a producer expects to generate in a calendar year,
how much it expects to transfer and to which receiver. Only office staff (admin or member)
of an approved producer write plans. Functions take the session and ``now``; none commits.
Every change writes an audit entry.

The tier (重点监管 / 简化管理 / 登记管理) follows from the highest yearly generated tonnage
of the last three years; see :func:`compute_tier`.
"""

from __future__ import annotations

import csv
import enum
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from hazwaste import csvimport
from hazwaste.accounts.models import Organization, User
from hazwaste.audit import services as audit
from hazwaste.db import KG_PER_TONNE, grams, kg_from_grams
from hazwaste.errors import Invalid, NotFound
from hazwaste.labels import tonnes
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.ledger.services import CHINA_TZ, WasteCodeChecker, producer_of
from hazwaste.manifests.models import Manifest, ManifestLine, ManifestStatus
from hazwaste.permits import services as permits
from hazwaste.plans.models import ManagementPlan
from hazwaste.plans.schemas import CSV_COLUMNS, CSV_REQUIRED, PlanCsvRowSchema
from hazwaste.schemas import capped_rows, field_errors

# -- tier --------------------------------------------------------------------------------------

#: 重点监管: the highest yearly generation reaches 100 t.
KEY_SUPERVISION_MIN_KG = Decimal(100) * KG_PER_TONNE
#: 简化管理: the highest yearly generation reaches 10 t (below it: 登记管理).
SIMPLIFIED_MIN_KG = Decimal(10) * KG_PER_TONNE
#: Calendar years of actual generation looked at before the plan year.
TIER_LOOKBACK_YEARS = 3


class Tier(enum.StrEnum):
    KEY_SUPERVISION = "key_supervision"  # 重点监管单位
    SIMPLIFIED = "simplified"  # 简化管理单位
    REGISTRATION = "registration"  # 登记管理单位


TIER_LABELS = {
    Tier.KEY_SUPERVISION: _l("Key supervision"),
    Tier.SIMPLIFIED: _l("Simplified management"),
    Tier.REGISTRATION: _l("Registration management"),
}


class FigureSource(enum.StrEnum):
    ACTUAL = "actual"  # generated, from the ledger
    PLANNED = "planned"  # planned generation of the plan year


@dataclass
class TierFigure:
    year: int
    source: FigureSource
    kg: Decimal


@dataclass
class TierResult:
    """The tier, the yearly figures it was computed from (oldest first, the plan year last)
    and the figure that decided it (the highest; the most recent one on a tie)."""

    tier: Tier
    figures: list[TierFigure]
    deciding: TierFigure
    key_supervision_min_kg: Decimal = KEY_SUPERVISION_MIN_KG
    simplified_min_kg: Decimal = SIMPLIFIED_MIN_KG

    @property
    def label(self) -> Any:
        return TIER_LABELS[self.tier]


def tier_for(kg: Decimal) -> Tier:
    """The tier of a producer whose highest yearly generation is ``kg`` kilograms."""
    if kg >= KEY_SUPERVISION_MIN_KG:
        return Tier.KEY_SUPERVISION
    if kg >= SIMPLIFIED_MIN_KG:
        return Tier.SIMPLIFIED
    return Tier.REGISTRATION


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _utc_year_bounds(year: int) -> tuple[datetime, datetime]:
    """The calendar year in China as a half-open UTC interval (hand-offs are stored in UTC)."""
    start = datetime(year, 1, 1, tzinfo=CHINA_TZ).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA_TZ).astimezone(UTC)
    return start, end


def generated_by_year(session: Session, producer_id: int, years: list[int]) -> dict[int, Decimal]:
    """Ledger *generated* totals (kg, exact) of each of ``years``, in one query."""
    if not years:
        return {}
    qty = grams(LedgerEntry.quantity_kg)
    columns = []
    for year in years:
        first, last = year_bounds(year)
        in_year = (LedgerEntry.occurred_on >= first) & (LedgerEntry.occurred_on <= last)
        columns.append(
            grams(func.coalesce(func.sum(case((in_year, qty), else_=0)), 0)).label(f"y{year}")
        )
    row = session.execute(
        select(*columns).where(
            LedgerEntry.producer_id == producer_id,
            LedgerEntry.kind == LedgerKind.GENERATED,
            LedgerEntry.occurred_on >= date(min(years), 1, 1),
            LedgerEntry.occurred_on <= date(max(years), 12, 31),
        )
    ).one()
    return {year: kg_from_grams(row[i]) for i, year in enumerate(years)}


def planned_generation(session: Session, producer_id: int, year: int) -> Decimal:
    total = session.scalar(
        select(
            grams(func.coalesce(func.sum(grams(ManagementPlan.planned_generation_kg)), 0))
        ).where(ManagementPlan.producer_id == producer_id, ManagementPlan.year == year)
    )
    return kg_from_grams(total)


def compute_tier(session: Session, producer_id: int, year: int) -> TierResult:
    """The producer's supervision tier for ``year``.

    重点监管 if the highest yearly generation among the figures is ≥
    :data:`KEY_SUPERVISION_MIN_KG` (100 t), 简化管理 if ≥ :data:`SIMPLIFIED_MIN_KG` (10 t),
    登记管理 below. The figures are the actual generated tonnage (ledger) of each of the
    :data:`TIER_LOOKBACK_YEARS` calendar years before ``year``, plus the plan's total
    planned generation for ``year`` itself, so a new plant planning 150 t is under key
    supervision from its first day. Never fails; a producer with no data is 登记管理.
    """
    past = list(range(year - TIER_LOOKBACK_YEARS, year))
    actual = generated_by_year(session, producer_id, past)
    figures = [TierFigure(y, FigureSource.ACTUAL, actual[y]) for y in past]
    figures.append(
        TierFigure(year, FigureSource.PLANNED, planned_generation(session, producer_id, year))
    )
    deciding = figures[-1]
    for figure in reversed(figures):  # most recent first, so a tie names the latest year
        if figure.kg > deciding.kg:
            deciding = figure
    return TierResult(tier=tier_for(deciding.kg), figures=figures, deciding=deciding)


# -- plan versus actual ------------------------------------------------------------------------


def percent(actual: Decimal, planned: Decimal | None) -> Decimal | None:
    """``actual`` as a percentage of ``planned`` (one decimal); None without a plan figure."""
    if not planned:
        return None
    return (actual * 100 / planned).quantize(Decimal("0.1"))


@dataclass
class PlanRow:
    """One waste code of a year: the plan row (None for waste generated or shipped without
    one) and what actually happened."""

    waste_code: str
    plan: ManagementPlan | None
    actual_generated_kg: Decimal = Decimal("0.000")
    actual_shipped_kg: Decimal = Decimal("0.000")

    @property
    def planned_generation_kg(self) -> Decimal | None:
        return self.plan.planned_generation_kg if self.plan else None

    @property
    def planned_transfer_kg(self) -> Decimal | None:
        return self.plan.planned_transfer_kg if self.plan else None

    @property
    def generation_pct(self) -> Decimal | None:
        return percent(self.actual_generated_kg, self.planned_generation_kg)

    @property
    def transfer_pct(self) -> Decimal | None:
        return percent(self.actual_shipped_kg, self.planned_transfer_kg)


@dataclass
class PlanTotals:
    planned_generation_kg: Decimal
    actual_generated_kg: Decimal
    planned_transfer_kg: Decimal
    actual_shipped_kg: Decimal

    @property
    def generation_pct(self) -> Decimal | None:
        return percent(self.actual_generated_kg, self.planned_generation_kg)

    @property
    def transfer_pct(self) -> Decimal | None:
        return percent(self.actual_shipped_kg, self.planned_transfer_kg)


def plans_for_year(session: Session, producer_id: int, year: int) -> list[ManagementPlan]:
    return list(
        session.scalars(
            select(ManagementPlan)
            .options(joinedload(ManagementPlan.intended_receiver))
            .where(ManagementPlan.producer_id == producer_id, ManagementPlan.year == year)
            .order_by(ManagementPlan.waste_code)
        )
    )


def actual_generated(session: Session, producer_id: int, year: int) -> dict[str, Decimal]:
    """Ledger *generated* per waste code in the calendar year (kg, exact)."""
    first, last = year_bounds(year)
    rows = session.execute(
        select(LedgerEntry.waste_code, grams(func.sum(grams(LedgerEntry.quantity_kg))))
        .where(
            LedgerEntry.producer_id == producer_id,
            LedgerEntry.kind == LedgerKind.GENERATED,
            LedgerEntry.occurred_on >= first,
            LedgerEntry.occurred_on <= last,
        )
        .group_by(LedgerEntry.waste_code)
    )
    return {code: kg_from_grams(total) for code, total in rows}


def actual_shipped(session: Session, producer_id: int, year: int) -> dict[str, Decimal]:
    """Weighed quantities (``loaded_kg``) of the producer's manifests picked up in the
    calendar year (China time), per waste code (kg, exact)."""
    start, end = _utc_year_bounds(year)
    rows = session.execute(
        select(ManifestLine.waste_code, grams(func.sum(grams(ManifestLine.loaded_kg))))
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(
            Manifest.producer_id == producer_id,
            Manifest.picked_up_at >= start,
            Manifest.picked_up_at < end,
            ManifestLine.loaded_kg.is_not(None),
        )
        .group_by(ManifestLine.waste_code)
    )
    return {code: kg_from_grams(total) for code, total in rows}


def plan_limit(
    session: Session, manifest: Manifest, on_date: date, weights: dict[str, Decimal]
) -> list[str]:
    """The management plan as a limit on a manifest about to leave (see
    :mod:`hazwaste.manifests.gates`): for each code the producer planned for ``on_date``'s
    year, what is already transferred (weighed at pickup this year) or committed (other
    manifests submitted for this year, not yet picked up) plus ``weights`` must stay within
    the planned transfer. One statement. Codes without a plan are not limited here (the
    OVER_PLAN rule and the plan page show them)."""
    year = on_date.year
    start, end = _utc_year_bounds(year)
    first, last = year_bounds(year)
    codes = sorted(weights)
    shipped = (
        select(grams(func.coalesce(func.sum(grams(ManifestLine.loaded_kg)), 0)))
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(
            Manifest.producer_id == manifest.producer_id,
            Manifest.id != manifest.id,
            Manifest.picked_up_at >= start,
            Manifest.picked_up_at < end,
            ManifestLine.waste_code == ManagementPlan.waste_code,
        )
        .correlate(ManagementPlan)
        .scalar_subquery()
    )
    committed = (
        select(grams(func.coalesce(func.sum(grams(ManifestLine.declared_kg)), 0)))
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(
            Manifest.producer_id == manifest.producer_id,
            Manifest.id != manifest.id,
            Manifest.status == ManifestStatus.SUBMITTED,
            Manifest.planned_date >= first,
            Manifest.planned_date <= last,
            ManifestLine.waste_code == ManagementPlan.waste_code,
        )
        .correlate(ManagementPlan)
        .scalar_subquery()
    )
    rows = session.execute(
        select(ManagementPlan.waste_code, ManagementPlan.planned_transfer_kg, shipped, committed)
        .where(
            ManagementPlan.producer_id == manifest.producer_id,
            ManagementPlan.year == year,
            ManagementPlan.waste_code.in_(codes),
        )
        .order_by(ManagementPlan.waste_code)
    ).all()
    messages = []
    for code, planned, shipped_g, committed_g in rows:
        used = kg_from_grams(shipped_g) + kg_from_grams(committed_g)
        if used + weights[code] <= planned:
            continue
        messages.append(
            _(
                "%(code)s: the management plan allows %(planned)s t to be transferred in "
                "%(year)s; %(used)s t are transferred or on manifests already, %(left)s t "
                "are left, and this manifest carries %(this)s t.",
                code=code,
                planned=tonnes(planned),
                year=year,
                used=tonnes(used),
                left=tonnes(max(planned - used, Decimal(0))),
                this=tonnes(weights[code]),
            )
        )
    return messages


def plan_vs_actual(session: Session, producer_id: int, year: int) -> list[PlanRow]:
    """Every planned waste code of the year, then codes generated or shipped without a plan
    row, by code; each with actual generation (ledger) and shipments (weighed pickups)."""
    rows = {
        plan.waste_code: PlanRow(plan.waste_code, plan)
        for plan in plans_for_year(session, producer_id, year)
    }
    for code, kg in actual_generated(session, producer_id, year).items():
        rows.setdefault(code, PlanRow(code, None)).actual_generated_kg = kg
    for code, kg in actual_shipped(session, producer_id, year).items():
        rows.setdefault(code, PlanRow(code, None)).actual_shipped_kg = kg
    return [rows[code] for code in sorted(rows)]


def totals(rows: list[PlanRow]) -> PlanTotals:
    zero = Decimal("0.000")
    return PlanTotals(
        planned_generation_kg=sum((r.planned_generation_kg or zero for r in rows), zero),
        actual_generated_kg=sum((r.actual_generated_kg for r in rows), zero),
        planned_transfer_kg=sum((r.planned_transfer_kg or zero for r in rows), zero),
        actual_shipped_kg=sum((r.actual_shipped_kg for r in rows), zero),
    )


# -- writing plan rows -------------------------------------------------------------------------


def approved_receivers(session: Session) -> list[Organization]:
    """Receivers a plan may name: approved organizations holding the receiver role."""
    from hazwaste.accounts.models import OrgStatus

    return list(
        session.scalars(
            select(Organization)
            .where(Organization.is_receiver.is_(True), Organization.status == OrgStatus.APPROVED)
            .order_by(Organization.name)
        )
    )


def get_plan(session: Session, user: User, plan_id: int) -> ManagementPlan:
    """A plan row of the user's own producer; ``Forbidden`` for non-staff, ``NotFound`` if
    it does not exist or belongs to another producer."""
    producer = producer_of(user)
    plan = session.get(ManagementPlan, plan_id)
    if plan is None or plan.producer_id != producer.id:
        raise NotFound()
    return plan


def _receiver_ok(org: Organization | None) -> bool:
    return org is not None and org.is_receiver and org.is_approved


def _check(
    session: Session,
    checker: WasteCodeChecker,
    data: dict[str, Any],
    receiver: Organization | None,
    named: bool,
    receiver_field: str,
    unknown_message: str | None = None,
) -> tuple[dict[str, list[str]], list[str]]:
    """Rule violations (field → messages) and warnings for one plan row.

    ``named`` says whether the row names a receiver at all; ``receiver`` is the organization
    found for it (None if there is no such organization: ``unknown_message`` then). Keys
    missing from ``data`` (fields that failed to parse) skip the rules that need them, so a
    form can show every problem at once.
    """
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    year, code = data.get("year"), data.get("waste_code")
    first_day = date(year, 1, 1) if year is not None else None
    if first_day is not None and code is not None and not checker.valid(code, first_day):
        errors["waste_code"] = [
            _("Not a waste code of the catalogue in force on 1 January %(year)s.", year=year)
        ]
    if named and receiver is None and unknown_message:
        errors[receiver_field] = [unknown_message]
    elif named and not _receiver_ok(receiver):
        errors[receiver_field] = [_("Choose an approved receiver.")]
    elif not named and (data.get("planned_transfer_kg") or 0) > 0:
        errors[receiver_field] = [_("Name the intended receiver of the planned transfer.")]
    elif (
        receiver is not None
        and first_day is not None
        and code is not None
        and "waste_code" not in errors
        and not permits.licence_covers(session, receiver, code, first_day)
    ):
        warnings.append(
            _(
                "The licence of %(receiver)s does not cover %(code)s on 1 January %(year)s.",
                receiver=receiver.name,
                code=code,
                year=year,
            )
        )
    return errors, warnings


def check_plan(session: Session, data: dict[str, Any]) -> dict[str, list[str]]:
    """The rule violations :func:`save_plan` would report for (possibly partial) form data:
    lets a form that failed to parse show the other problems too. Never raises."""
    receiver_id = data.get("intended_receiver_id")
    receiver = session.get(Organization, receiver_id) if receiver_id is not None else None
    errors, _warnings = _check(
        session,
        WasteCodeChecker(session),
        data,
        receiver,
        receiver_id is not None,
        "intended_receiver_id",
    )
    return errors


def _audit_payload(plan: ManagementPlan) -> dict[str, Any]:
    return {
        "year": plan.year,
        "waste_code": plan.waste_code,
        "planned_generation_kg": plan.planned_generation_kg,
        "planned_transfer_kg": plan.planned_transfer_kg,
        "intended_receiver_id": plan.intended_receiver_id,
        "note": plan.note,
    }


def _find(session: Session, producer_id: int, year: int, code: str) -> ManagementPlan | None:
    return session.scalar(
        select(ManagementPlan).where(
            ManagementPlan.producer_id == producer_id,
            ManagementPlan.year == year,
            ManagementPlan.waste_code == code,
        )
    )


def _apply(
    plan: ManagementPlan, data: dict[str, Any], receiver: Organization | None, now: datetime
) -> None:
    plan.year, plan.waste_code = data["year"], data["waste_code"]
    plan.planned_generation_kg = data["planned_generation_kg"]
    plan.planned_transfer_kg = data["planned_transfer_kg"]
    plan.intended_receiver_id = receiver.id if receiver is not None else None
    plan.intended_receiver = receiver
    plan.note = data.get("note") or ""
    plan.updated_at = now


def _upsert(
    session: Session,
    now: datetime,
    user: User,
    producer: Organization,
    data: dict[str, Any],
    receiver: Organization | None,
) -> tuple[ManagementPlan, bool]:
    """Insert the row, or update the producer's row for the same year and code."""
    plan = _find(session, producer.id, data["year"], data["waste_code"])
    created = plan is None
    if plan is None:
        plan = ManagementPlan(producer_id=producer.id, created_by_id=user.id, created_at=now)
        _apply(plan, data, receiver, now)
        try:
            with session.begin_nested():
                session.add(plan)
        except IntegrityError:
            # Someone saved the same year and code in the meantime: update their row instead.
            plan = _find(session, producer.id, data["year"], data["waste_code"])
            if plan is None:  # pragma: no cover - the constraint fired, so the row exists
                raise
            created = False
    if not created:
        _apply(plan, data, receiver, now)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="plan.created" if created else "plan.updated",
        object_type="management_plan",
        object_id=plan.id,
        payload=_audit_payload(plan),
    )
    return plan, created


@dataclass
class SaveResult:
    plan: ManagementPlan
    created: bool
    warnings: list[str] = field(default_factory=list)


def save_plan(
    session: Session, now: datetime, user: User, data: dict[str, Any], plan_id: int | None = None
) -> SaveResult:
    """Create or update one plan row from a ``PlanFormSchema``/``PlanSchema`` result.

    Without ``plan_id`` the producer's row for the same year and waste code is updated if it
    exists, else created. With ``plan_id`` that row is edited (``NotFound`` if it is not the
    producer's); moving it onto the year and code of another row is ``Invalid``.

    ``Forbidden`` unless the user is office staff of an approved producer. ``Invalid`` (on
    ``waste_code`` / ``intended_receiver_id``) if the code is not in the catalogue edition in
    force on 1 January of the year, the receiver is not an approved receiver (or does not
    exist), or a transfer is planned without a receiver. A receiver whose licence does not
    cover the code on 1 January is allowed, with a warning in the result for the user to see.
    """
    producer = producer_of(user)
    existing = get_plan(session, user, plan_id) if plan_id is not None else None
    receiver_id = data.get("intended_receiver_id")
    receiver = session.get(Organization, receiver_id) if receiver_id is not None else None
    errors, warnings = _check(
        session,
        WasteCodeChecker(session),
        data,
        receiver,
        receiver_id is not None,
        "intended_receiver_id",
    )
    if existing is not None and "waste_code" not in errors:
        other = _find(session, producer.id, data["year"], data["waste_code"])
        if other is not None and other.id != existing.id:
            errors["waste_code"] = [
                _(
                    "The plan of %(year)s already has a row for %(code)s; edit that row instead.",
                    year=data["year"],
                    code=data["waste_code"],
                )
            ]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    if existing is None:
        plan, created = _upsert(session, now, user, producer, data, receiver)
        return SaveResult(plan, created, warnings)
    _apply(existing, data, receiver, now)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="plan.updated",
        object_type="management_plan",
        object_id=existing.id,
        payload=_audit_payload(existing),
    )
    return SaveResult(existing, False, warnings)


def delete_plan(session: Session, now: datetime, user: User, plan_id: int) -> None:
    """Delete one of the producer's plan rows (``NotFound`` otherwise); audited with the
    row's last content."""
    plan = get_plan(session, user, plan_id)
    payload = _audit_payload(plan)
    session.delete(plan)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="plan.deleted",
        object_type="management_plan",
        object_id=plan_id,
        payload=payload,
    )


# -- CSV import --------------------------------------------------------------------------------

#: Largest accepted plan file; a plan has one line per waste code and year.
MAX_IMPORT_BYTES = 1024 * 1024
MAX_IMPORT_ROWS = 5000


def template_csv(year: int, receiver_uscc: str = "") -> str:
    """The header line and one example row, for users to fill in."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerow([year, "900-249-08", "12.5", "12", receiver_uscc, "设备检修产生的废矿物油"])
    return out.getvalue()


def _file_error(message: str) -> Invalid:
    return Invalid(message, {"file": [message]})


def parse_csv(raw: bytes) -> list[tuple[int, dict[str, str]]]:
    """Decode the file (UTF-8 with or without BOM, or GB18030 as Excel saves it) and return
    ``(line number, row)`` pairs; the header is line 1, blank lines are skipped.

    ``Invalid`` on ``file`` if it is too large, empty, not CSV text (see
    :mod:`hazwaste.csvimport`), lacks a required column, has no rows or too many.
    """
    if len(raw) > MAX_IMPORT_BYTES:
        raise _file_error(_("The file is larger than %(kb)s KB.", kb=MAX_IMPORT_BYTES // 1024))
    header_values, found = csvimport.read_rows(csvimport.decode(raw), MAX_IMPORT_ROWS)
    header = [h.strip().lstrip("\ufeff").lower() for h in header_values]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise _file_error(_("Missing columns: %(cols)s", cols=", ".join(missing)))
    rows = [
        (line, {name: value for name, value in zip(header, values, strict=False) if name})
        for line, values in found
    ]
    if not rows:
        raise _file_error(_("The file has no rows."))
    return rows


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    years: list[int] = field(default_factory=list)
    #: CSV line number → warnings (receiver licence not covering the code).
    warnings: dict[int, list[str]] = field(default_factory=dict)


def import_plans(session: Session, now: datetime, user: User, raw: bytes) -> ImportResult:
    """Save every row of a plan CSV, or none.

    Columns: :data:`~hazwaste.plans.schemas.CSV_COLUMNS` (quantities in tonnes, receiver by
    USCC). Each row follows the rules of :func:`save_plan`; a (year, waste code) already in
    the plan is updated. ``Invalid`` with ``{"rows": {line: {column: [messages]}}}`` (line
    numbers as in the file, header = 1; the first :data:`~hazwaste.schemas.ROW_ERRORS_MAX`
    rows, ``extra["invalid_rows"]`` counts all) if any row is wrong, and nothing is written;
    file problems are reported on ``file``. One audit entry per row written.
    """
    producer = producer_of(user)
    rows = parse_csv(raw)
    schema = PlanCsvRowSchema()
    checker = WasteCodeChecker(session)
    receivers = {
        org.uscc: org
        for org in session.scalars(select(Organization).where(Organization.is_receiver.is_(True)))
    }
    errors: dict[int, dict[str, Any]] = {}
    seen: dict[tuple[int, str], int] = {}
    loaded: list[tuple[int, dict[str, Any], Organization | None]] = []
    result = ImportResult()
    for line, row in rows:
        try:
            data = schema.load(row)
            parse_errors: dict[str, Any] = {}
        except ValidationError as exc:
            data = exc.valid_data if isinstance(exc.valid_data, dict) else {}
            parse_errors = field_errors(exc)
        uscc = (data.get("intended_receiver_uscc") or "").upper()
        receiver = receivers.get(uscc) if uscc else None
        row_errors, warnings = _check(
            session,
            checker,
            data,
            receiver,
            bool(uscc),
            "intended_receiver_uscc",
            _("No approved receiver has this unified social credit code."),
        )
        key = (data.get("year"), data.get("waste_code"))
        if key in seen:
            row_errors.setdefault("waste_code", []).append(
                _(
                    "%(code)s of %(year)s is already on line %(line)s.",
                    code=key[1],
                    year=key[0],
                    line=seen[key],
                )
            )
        elif None not in key:
            seen[key] = line
        row_errors.update(parse_errors)  # a column that did not parse: its own message
        if row_errors:
            errors[line] = row_errors
        elif warnings:
            result.warnings[line] = warnings
        loaded.append((line, data, receiver))
    if errors:
        shown, total = capped_rows(errors)
        raise Invalid(
            _("Nothing was imported: %(n)s rows have errors.", n=total),
            {"rows": shown},
            invalid_rows=total,
        )
    for _line, data, receiver in loaded:
        _plan, created = _upsert(session, now, user, producer, data, receiver)
        if created:
            result.created += 1
        else:
            result.updated += 1
    result.years = sorted({data["year"] for _line, data, _receiver in loaded})
    return result
