"""LICENCE_MISMATCH: waste received or disposed of outside the receiver's licence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Select, String, and_, func, literal, null, or_, select, true, union_all
from sqlalchemy.orm import Session

from hazwaste.db import UTCDateTime
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.permits.models import Licence, LicenceMethod, LicenceScope
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_day_start, dialect, first_of_month, scanned
from hazwaste.reconciliation.totals import receiver_months


@register
class LicenceMismatch(Rule):
    """Per line: received on a day when no licence of the receiver covered the code
    (expired, revoked, or out of scope), or disposed of by a method no covering licence
    allows on the disposal date. Two findings per line are possible (periods ``receipt``
    and ``disposal``)."""

    code = "LICENCE_MISMATCH"
    subject_type = "manifest_line"
    cost = 3
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
                null().cast(Date).label("on_day"),
                null().cast(String).label("method"),
            )
            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
            .where(
                Manifest.received_at.is_not(None),
                # Not by the receipt-time index: a full run reaches the lines through the
                # suspect months and the (receiver, received_at) index instead.
                scanned(session, Manifest.received_at) <= ctx.as_of,
                ManifestLine.accepted_kg > 0,
                *[~cover_exists for cover_exists in received_in_force.clauses],
            )
        )
        disposal = (
            select(
                *base,
                literal("disposal").label("period"),
                ManifestLine.disposed_kg.label("quantity_kg"),
                null().cast(UTCDateTime(timezone=True)).label("on_time"),
                ManifestLine.disposal_date.label("on_day"),
                ManifestLine.disposal_method.label("method"),
            )
            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
            .where(
                ManifestLine.disposal_method.is_not(None),
                scanned(session, ManifestLine.disposal_date) <= local_date(ctx.as_of),
                *[~cover_exists for cover_exists in disposal_in_force.clauses],
            )
        )
        if ctx.manifest_id is not None:
            receipt = receipt.where(Manifest.id == ctx.manifest_id)
            disposal = disposal.where(Manifest.id == ctx.manifest_id)
        else:
            receipt, disposal = self._in_suspect_months(
                session, ctx, cover, cover_methods, receipt, disposal
            )
        union = union_all(receipt, disposal).subquery()
        return select(union)

    def _in_suspect_months(
        self,
        session: Session,
        ctx: Context,
        cover: Any,
        cover_methods: Any,
        receipt: Any,
        disposal: Any,
    ) -> tuple[Any, Any]:
        """Restrict a full run to the receiver months that a licence may not cover.

        The monthly totals say which receiver received (``method_code`` empty) or disposed
        of (by method) which code in which month. A period is *clear* when one licence of
        the receiver covers the code (or its category) — and, for disposals, the method —
        from the period's first to its last day and was not revoked by ``as_of``; every line
        in it is then covered. First each receiver × code (× method) is tried over its whole
        span of months (one check, and most are clear); the rest month by month; only the
        months left are checked line by line, found through the (receiver, received_at)
        index: a national run reads the totals, not every line.
        """
        t = receiver_months().c
        months = t.month <= first_of_month(local_date(ctx.as_of))

        def uncovered(
            table: Any, receiver: Any, code: Any, first: Any, last: Any, *conditions: Any
        ) -> list[Any]:
            return [
                ~select(table.c.licence_id)
                .where(
                    table.c.receiver_id == receiver,
                    table.c.scope == key,
                    table.c.valid_from <= first,
                    table.c.valid_to >= last,
                    or_(table.c.revoked_at.is_(None), table.c.revoked_at > ctx.as_of),
                    *conditions,
                )
                .correlate_except(table)
                .exists()
                for key in (code, literal("HW") + func.substr(code, 9, 2))
            ]

        def suspect_months(name: str, kind: Any, table: Any, method: bool) -> Any:
            keys = [t.receiver_id, t.waste_code] + ([t.method_code] if method else [])
            spans = (
                select(
                    *keys,
                    func.min(t.month).label("first"),
                    func.max(t.month_end).label("last"),
                )
                .where(months, kind)
                .group_by(*keys)
                .subquery()
            )

            def same_method(column: Any) -> list[Any]:
                return [table.c.method_code == column] if method else []

            open_spans = (
                select(spans)
                .where(
                    *uncovered(
                        table,
                        spans.c.receiver_id,
                        spans.c.waste_code,
                        spans.c.first,
                        spans.c.last,
                        *same_method(spans.c.get("method_code")),
                    )
                )
                # Fences (here and below): each filter runs on the small set it is meant
                # for; PostgreSQL would otherwise apply them after joining everything.
                .cte(f"{name}_spans")
                .prefix_with("MATERIALIZED")
            )
            return (
                select(*keys, t.month, t.month_end)
                .join(
                    open_spans,
                    and_(*[open_spans.c[k.key] == k for k in keys]),
                )
                .where(
                    months,
                    kind,
                    *uncovered(
                        table,
                        t.receiver_id,
                        t.waste_code,
                        t.month,
                        t.month_end,
                        *same_method(t.method_code),
                    ),
                )
                .cte(name)
                .prefix_with("MATERIALIZED")
            )

        received = suspect_months(
            "suspect_receipts", and_(t.method_code == "", t.accepted_kg > 0), cover, False
        )
        disposed = suspect_months(
            "suspect_disposals", and_(t.method_code != "", t.disposed_kg > 0), cover_methods, True
        )
        receipt = self._drill(
            session,
            receipt,
            received,
            Manifest.receiver_id == scanned(session, received.c.receiver_id),
            ManifestLine.waste_code == scanned(session, received.c.waste_code),
            Manifest.received_at >= china_day_start(session, received.c.month),
            Manifest.received_at < china_day_start(session, received.c.month_end, days=1),
        )
        disposal = self._drill(
            session,
            disposal,
            disposed,
            Manifest.receiver_id == scanned(session, disposed.c.receiver_id),
            ManifestLine.waste_code == scanned(session, disposed.c.waste_code),
            ManifestLine.disposal_method == scanned(session, disposed.c.method_code),
            # Through the receiver's manifests, not every line disposed of that month.
            scanned(session, ManifestLine.disposal_date) >= disposed.c.month,
            scanned(session, ManifestLine.disposal_date) <= disposed.c.month_end,
        )
        return receipt, disposal

    @staticmethod
    def _drill(session: Session, lines: Any, months: Any, *conditions: Any) -> Any:
        """``lines`` restricted to the suspect ``months``, which must drive the plan: each
        month's lines are found through the (receiver, received_at) index. PostgreSQL gets a
        LATERAL subquery (it underestimates how few the months are and would hash every
        line); SQLite, which has no LATERAL, a join in which the month-side columns are
        compared through scanned(), so that it can only scan the months and probe the
        manifests."""
        if dialect(session) == "postgresql":
            per_month = lines.where(*conditions).lateral()
            return select(per_month).select_from(months).join(per_month, true())
        return lines.join(months, and_(*conditions))

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
