"""LOCATION_MISMATCH: a hand-off's GPS position far from the party's registered site."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session, aliased

from hazwaste.accounts.models import Organization
from hazwaste.manifests.models import EventKind, Manifest, ManifestEvent
from hazwaste.reconciliation.models import SEVERITY_ORDER, Severity
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for


@register
class LocationMismatch(Rule):
    """Pickup more than ``LOCATION_KM`` (2 km) from the producer's site, or arrival/receipt
    that far from the receiver's. Events without a position (or whose site has no registered
    coordinates) are not judged here. The distance is the one recorded with the event (see
    :mod:`hazwaste.manifests.geo`), so the query is an index range scan."""

    code = "LOCATION_MISMATCH"
    subject_type = "manifest_event"
    manifest_scoped = True

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        producer = aliased(Organization)
        receiver = aliased(Organization)
        at_producer = ManifestEvent.kind == EventKind.PICKED_UP
        limit_m = int(Decimal(str(ctx.settings["LOCATION_KM"])) * 1000)
        stmt = (
            select(
                ManifestEvent.id,
                ManifestEvent.kind,
                ManifestEvent.latitude,
                ManifestEvent.longitude,
                ManifestEvent.occurred_at,
                ManifestEvent.total_kg,
                ManifestEvent.site_distance_m,
                case((at_producer, producer.latitude), else_=receiver.latitude).label("site_lat"),
                case((at_producer, producer.longitude), else_=receiver.longitude).label("site_lon"),
                Manifest.id.label("manifest_id"),
                Manifest.number,
                Manifest.producer_id,
                Manifest.carrier_id,
                Manifest.receiver_id,
            )
            .join(Manifest, Manifest.id == ManifestEvent.manifest_id)
            .join(producer, producer.id == Manifest.producer_id)
            .join(receiver, receiver.id == Manifest.receiver_id)
            .where(
                ManifestEvent.site_distance_m > limit_m,
                ManifestEvent.occurred_at <= ctx.as_of,
            )
        )
        if ctx.manifest_id is not None:
            stmt = stmt.where(Manifest.id == ctx.manifest_id)
        return stmt

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        km = (Decimal(row.site_distance_m) / 1000).quantize(Decimal("0.01"))
        kind = row.kind.value if hasattr(row.kind, "value") else row.kind
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period="",
            # The farther and the heavier, the worse (≥ 3 t: the referral tier).
            severity=max(
                Severity.HIGH if km > 50 else Severity.MEDIUM,
                severity_for(row.total_kg, ctx.settings),
                key=SEVERITY_ORDER.__getitem__,
            ),
            quantity_kg=row.total_kg,
            summary=f"{row.number}: {kind} {km} km from the registered site",
            evidence={
                "number": row.number,
                "event": kind,
                "occurred_at": row.occurred_at,
                "position": [row.latitude, row.longitude],
                "site": [row.site_lat, row.site_lon],
                "distance_km": km,
                "limit_km": ctx.settings["LOCATION_KM"],
            },
            producer_id=row.producer_id,
            carrier_id=row.carrier_id,
            receiver_id=row.receiver_id,
            manifest_id=row.manifest_id,
        )
