"""STORAGE_OVERDUE: hazardous waste kept in storage beyond the legal period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, literal, select, union_all
from sqlalchemy.orm import Session

from hazwaste.ledger.models import Container, ContainerStatus
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_date


@register
class StorageOverdue(Rule):
    """Older than ``STORAGE_DAYS`` (365): a producer's container still in store (filled
    before the limit), or a receiver's accepted line not yet disposed of (received before the
    limit). Subjects: ``container`` or ``manifest_line``."""

    code = "STORAGE_OVERDUE"
    subject_type = "container"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        days = int(ctx.settings["STORAGE_DAYS"])
        limit_day = local_date(ctx.as_of) - timedelta(days=days)
        containers = select(
            literal("container").label("subject_type"),
            Container.id.label("subject_id"),
            Container.code.label("ref"),
            Container.waste_code,
            Container.net_weight_kg.label("quantity_kg"),
            Container.generation_date.label("since"),
            Container.producer_id.label("producer_id"),
            literal(None).label("receiver_id"),
            literal(None).label("manifest_id"),
        ).where(
            Container.status.in_([ContainerStatus.STORED, ContainerStatus.ASSIGNED]),
            Container.generation_date < limit_day,
        )
        lines = (
            select(
                literal("manifest_line").label("subject_type"),
                ManifestLine.id.label("subject_id"),
                Manifest.number.label("ref"),
                ManifestLine.waste_code,
                ManifestLine.accepted_kg.label("quantity_kg"),
                china_date(session, Manifest.received_at).label("since"),
                Manifest.producer_id,
                Manifest.receiver_id,
                Manifest.id.label("manifest_id"),
            )
            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
            .where(
                ManifestLine.accepted_kg > 0,
                ManifestLine.disposal_method.is_(None),
                Manifest.received_at < ctx.as_of - timedelta(days=days),
            )
        )
        return select(union_all(containers, lines).subquery())

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        since = row.since
        return Finding(
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            period="",
            severity=severity_for(row.quantity_kg, ctx.settings),
            quantity_kg=row.quantity_kg,
            summary=f"{row.ref} {row.waste_code}: in storage since {since}",
            evidence={
                "reference": row.ref,
                "waste_code": row.waste_code,
                "since": since,
                "limit_days": ctx.settings["STORAGE_DAYS"],
                "quantity_kg": row.quantity_kg,
            },
            producer_id=row.producer_id,
            receiver_id=row.receiver_id,
            manifest_id=row.manifest_id,
        )
