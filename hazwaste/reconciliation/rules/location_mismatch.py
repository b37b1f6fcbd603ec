"""LOCATION_MISMATCH: a hand-off's GPS position far from the party's registered site."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, or_, select
from sqlalchemy.orm import Session, aliased

from hazwaste.accounts.models import Organization
from hazwaste.manifests.models import EventKind, Manifest, ManifestEvent
from hazwaste.reconciliation.models import Severity
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register
from hazwaste.reconciliation.sqltime import distance_km


@register
class LocationMismatch(Rule):
    """Pickup more than ``LOCATION_KM`` (2 km) from the producer's site, or arrival/receipt
    that far from the receiver's. Events without a position are not judged here."""

    code = "LOCATION_MISMATCH"
    subject_type = "manifest_event"
    manifest_scoped = True

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        producer = aliased(Organization)
        receiver = aliased(Organization)
        at_producer = ManifestEvent.kind == EventKind.PICKED_UP
        site_lat = case((at_producer, producer.latitude), else_=receiver.latitude)
        site_lon = case((at_producer, producer.longitude), else_=receiver.longitude)
        distance = distance_km(ManifestEvent.latitude, ManifestEvent.longitude, site_lat, site_lon)
        stmt = (
            select(
                ManifestEvent.id,
                ManifestEvent.kind,
                ManifestEvent.latitude,
                ManifestEvent.longitude,
                ManifestEvent.occurred_at,
                ManifestEvent.total_kg,
                site_lat.label("site_lat"),
                site_lon.label("site_lon"),
                distance.label("distance_km"),
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
                ManifestEvent.kind.in_(
                    [
                        EventKind.PICKED_UP,
                        EventKind.DELIVERED,
                        EventKind.RECEIVED,
                        EventKind.REJECTED,
                    ]
                ),
                ManifestEvent.latitude.is_not(None),
                ManifestEvent.occurred_at <= ctx.as_of,
                or_(
                    and_(at_producer, producer.latitude.is_not(None)),
                    and_(~at_producer, receiver.latitude.is_not(None)),
                ),
                distance > float(ctx.settings["LOCATION_KM"]),
            )
        )
        if ctx.manifest_id is not None:
            stmt = stmt.where(Manifest.id == ctx.manifest_id)
        return stmt

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        km = Decimal(str(round(float(row.distance_km), 2)))
        kind = row.kind.value if hasattr(row.kind, "value") else row.kind
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period="",
            severity=Severity.HIGH if km > 50 else Severity.MEDIUM,
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
