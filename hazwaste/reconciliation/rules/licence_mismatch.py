"""LICENCE_MISMATCH: waste received or disposed of outside the receiver's licence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, literal, or_, select, union_all
from sqlalchemy.orm import Session

from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.permits.models import Licence, LicenceMethod, LicenceScope
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_date


def _covering_licence(on_day: Any, moment: Any, method: Any = None) -> Any:
    """EXISTS a licence of the manifest's receiver, valid that day, covering the line's code
    (and allowing ``method`` if given). Correlation is explicit: the line and manifest come
    from the enclosing query, two levels up."""
    scope = (
        select(LicenceScope.id)
        .where(
            LicenceScope.licence_id == Licence.id,
            or_(
                LicenceScope.waste_code == ManifestLine.waste_code,
                LicenceScope.category == literal("HW") + _last_two(ManifestLine.waste_code),
            ),
        )
        .correlate_except(LicenceScope)
    )
    conditions = [
        Licence.organization_id == Manifest.receiver_id,
        Licence.valid_from <= on_day,
        Licence.valid_to >= on_day,
        or_(Licence.revoked_at.is_(None), Licence.revoked_at > moment),
        scope.exists(),
    ]
    if method is not None:
        conditions.append(
            select(LicenceMethod.licence_id)
            .where(LicenceMethod.licence_id == Licence.id, LicenceMethod.method_code == method)
            .correlate_except(LicenceMethod)
            .exists()
        )
    return select(Licence.id).where(*conditions).correlate_except(Licence).exists()


def _last_two(column: Any) -> Any:
    from sqlalchemy import func

    return func.substr(column, 9, 2)


@register
class LicenceMismatch(Rule):
    """Per line: received on a day when no licence of the receiver covered the code
    (expired, revoked, or out of scope), or disposed of by a method no covering licence
    allows on the disposal date. Two findings per line are possible (periods ``receipt``
    and ``disposal``)."""

    code = "LICENCE_MISMATCH"
    subject_type = "manifest_line"
    manifest_scoped = True

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        received_day = china_date(session, Manifest.received_at)
        base = (
            ManifestLine.id,
            ManifestLine.line_no,
            ManifestLine.waste_code,
            Manifest.id.label("manifest_id"),
            Manifest.number,
            Manifest.producer_id,
            Manifest.carrier_id,
            Manifest.receiver_id,
        )
        receipt = (
            select(
                *base,
                literal("receipt").label("period"),
                ManifestLine.received_kg.label("quantity_kg"),
                received_day.label("on_day"),
                literal(None).label("method"),
            )
            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
            .where(
                Manifest.received_at.is_not(None),
                Manifest.received_at <= ctx.as_of,
                ManifestLine.accepted_kg > 0,
                ~_covering_licence(received_day, Manifest.received_at),
            )
        )
        disposal = (
            select(
                *base,
                literal("disposal").label("period"),
                ManifestLine.disposed_kg.label("quantity_kg"),
                ManifestLine.disposal_date.label("on_day"),
                ManifestLine.disposal_method.label("method"),
            )
            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
            .where(
                ManifestLine.disposal_method.is_not(None),
                ManifestLine.disposal_date <= local_date(ctx.as_of),
                ~_covering_licence(
                    ManifestLine.disposal_date, ctx.as_of, ManifestLine.disposal_method
                ),
            )
        )
        if ctx.manifest_id is not None:
            receipt = receipt.where(Manifest.id == ctx.manifest_id)
            disposal = disposal.where(Manifest.id == ctx.manifest_id)
        union = union_all(receipt, disposal).subquery()
        return select(union)

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        what = "received" if row.period == "receipt" else f"disposed ({row.method})"
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period=row.period,
            severity=severity_for(row.quantity_kg, ctx.settings),
            quantity_kg=row.quantity_kg,
            summary=f"{row.number} line {row.line_no} {row.waste_code}: {what} outside the "
            f"licence on {row.on_day}",
            evidence={
                "number": row.number,
                "line_no": row.line_no,
                "waste_code": row.waste_code,
                "on": row.on_day,
                "method": row.method,
                "quantity_kg": row.quantity_kg,
            },
            producer_id=row.producer_id,
            carrier_id=row.carrier_id,
            receiver_id=row.receiver_id,
            manifest_id=row.manifest_id,
        )
