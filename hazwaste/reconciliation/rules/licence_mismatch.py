"""LICENCE_MISMATCH: waste received or disposed of outside the receiver's licence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.permits.models import Licence, LicenceMethod, LicenceScope
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_day_start


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
        # The (small) table of what each licence covers, materialized once: one row per
        # licence × scope entry (a waste code or a whole HW category) with its validity as
        # UTC bounds, so each line is checked by two probes on equality keys.
        cover = (
            select(
                Licence.id.label("licence_id"),
                Licence.organization_id.label("receiver_id"),
                func.coalesce(LicenceScope.waste_code, LicenceScope.category).label("scope"),
                Licence.valid_from,
                Licence.valid_to,
                china_day_start(session, Licence.valid_from).label("starts"),
                china_day_start(session, Licence.valid_to, days=1).label("ends"),
                Licence.revoked_at,
            )
            .join(LicenceScope, LicenceScope.licence_id == Licence.id)
            .cte("cover")
            .prefix_with("MATERIALIZED")
        )
        # One licence row per method it allows, for the disposal check.
        cover_methods = (
            select(cover, LicenceMethod.method_code)
            .join(LicenceMethod, LicenceMethod.licence_id == cover.c.licence_id)
            .cte("cover_methods")
            .prefix_with("MATERIALIZED")
        )
        category = literal("HW") + func.substr(ManifestLine.waste_code, 9, 2)

        def covered(table: Any, *conditions: Any) -> Any:
            """A covering licence exists, by the line's code or by its category: two EXISTS
            on equality keys (receiver, scope), which PostgreSQL runs as hash anti-joins and
            SQLite as index probes (an ``IN`` of both keys would make PostgreSQL compare each
            line with every scope row of its receiver)."""
            return or_(
                *(
                    select(table.c.licence_id)
                    .where(
                        table.c.receiver_id == Manifest.receiver_id,
                        table.c.scope == key,
                        *conditions,
                    )
                    .correlate_except(table)
                    .exists()
                    for key in (ManifestLine.waste_code, category)
                )
            )

        received_in_force = covered(
            cover,
            cover.c.starts <= Manifest.received_at,
            cover.c.ends > Manifest.received_at,
            or_(cover.c.revoked_at.is_(None), cover.c.revoked_at > Manifest.received_at),
        )
        disposal_in_force = covered(
            cover_methods,
            cover_methods.c.method_code == ManifestLine.disposal_method,
            cover_methods.c.valid_from <= ManifestLine.disposal_date,
            cover_methods.c.valid_to >= ManifestLine.disposal_date,
            or_(cover_methods.c.revoked_at.is_(None), cover_methods.c.revoked_at > ctx.as_of),
        )
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
                Manifest.received_at.label("on_time"),
                literal(None).label("on_day"),
                literal(None).label("method"),
            )
            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
            .where(
                Manifest.received_at.is_not(None),
                Manifest.received_at <= ctx.as_of,
                ManifestLine.accepted_kg > 0,
                *[~cover_exists for cover_exists in received_in_force.clauses],
            )
        )
        disposal = (
            select(
                *base,
                literal("disposal").label("period"),
                ManifestLine.disposed_kg.label("quantity_kg"),
                literal(None).label("on_time"),
                ManifestLine.disposal_date.label("on_day"),
                ManifestLine.disposal_method.label("method"),
            )
            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
            .where(
                ManifestLine.disposal_method.is_not(None),
                ManifestLine.disposal_date <= local_date(ctx.as_of),
                *[~cover_exists for cover_exists in disposal_in_force.clauses],
            )
        )
        if ctx.manifest_id is not None:
            receipt = receipt.where(Manifest.id == ctx.manifest_id)
            disposal = disposal.where(Manifest.id == ctx.manifest_id)
        union = union_all(receipt, disposal).subquery()
        return select(union)

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        what = "received" if row.period == "receipt" else f"disposed ({row.method})"
        on_day = row.on_day if row.period == "disposal" else local_date(row.on_time)
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period=row.period,
            severity=severity_for(row.quantity_kg, ctx.settings),
            quantity_kg=row.quantity_kg,
            summary=f"{row.number} line {row.line_no} {row.waste_code}: {what} outside the "
            f"licence on {on_day}",
            evidence={
                "number": row.number,
                "line_no": row.line_no,
                "waste_code": row.waste_code,
                "on": on_day,
                "method": row.method,
                "quantity_kg": row.quantity_kg,
            },
            producer_id=row.producer_id,
            carrier_id=row.carrier_id,
            receiver_id=row.receiver_id,
            manifest_id=row.manifest_id,
        )
