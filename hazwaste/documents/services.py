"""Manifest documents for the people allowed to see the manifest: the PDF and the QR image.

Web pages and the API call the same functions; access is the manifest module's
(:func:`hazwaste.manifests.services.get_visible`): a non-party, or a regulator outside the
jurisdiction, gets ``NotFound`` — the manifest's existence does not leak. Nothing is written.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hazwaste.accounts.models import User
from hazwaste.catalog.models import TreatmentMethod
from hazwaste.documents.manifest_pdf import PrintContext, render_manifest_pdf
from hazwaste.documents.qr import manifest_qr_url, qr_png
from hazwaste.manifests import services as manifests
from hazwaste.manifests.models import Manifest, ManifestEvent
from hazwaste.permits import services as permits
from hazwaste.permits.models import CarrierPermit, Driver


def issued_manifest(session: Session, user: User, key: str | int) -> Manifest:
    """The manifest (by id or number) if ``user`` may see it and it has been issued.

    ``NotFound`` when the user may not see it; ``Conflict`` (with ``status``) for a draft,
    which has neither a number nor a QR code yet.
    """
    manifest = manifests.get_visible(session, user, key)
    manifest_qr_url(manifest)  # raises Conflict for a draft
    return manifest


def print_context(session: Session, manifest: Manifest) -> PrintContext:
    """Everything the printed form shows besides the manifest's own attributes.

    Licences are the receiver's licences valid on the planned date that cover at least one
    line; carrier permits those valid on the planned date. Vehicle and driver are the ones
    that really picked up once pickup happened, the planned ones before.
    """
    licences = sorted(
        {
            lic.number
            for line in manifest.lines
            for lic in permits.covering_licences(
                session, manifest.receiver_id, line.waste_code, manifest.planned_date
            )
        }
    )
    carrier_permits = list(
        session.scalars(
            select(CarrierPermit.number)
            .where(
                CarrierPermit.organization_id == manifest.carrier_id,
                CarrierPermit.revoked_at.is_(None),
                CarrierPermit.valid_from <= manifest.planned_date,
                CarrierPermit.valid_to >= manifest.planned_date,
            )
            .order_by(CarrierPermit.valid_to.desc(), CarrierPermit.id.desc())
        )
    )
    vehicle = manifest.pickup_vehicle or manifest.vehicle
    driver: Driver | None = manifest.driver
    driver_name = driver.user.name if driver else ""
    if manifest.pickup_driver is not None:
        driver_name = manifest.pickup_driver.name
        if driver is None or driver.user_id != manifest.pickup_driver_user_id:
            driver = session.scalar(
                select(Driver).where(Driver.user_id == manifest.pickup_driver_user_id)
            )
    codes = {line.disposal_method for line in manifest.lines if line.disposal_method}
    methods: list[TreatmentMethod] = (
        list(session.scalars(select(TreatmentMethod).where(TreatmentMethod.code.in_(codes))))
        if codes
        else []
    )
    return PrintContext(
        scan_url=manifest_qr_url(manifest),
        licence_numbers=licences,
        carrier_permit_numbers=carrier_permits,
        driver_name=driver_name,
        driver_qualification=driver.qualification_number if driver else "",
        vehicle_plate=vehicle.plate if vehicle else "",
        method_names={m.code: m.name_zh for m in methods},
    )


def manifest_pdf(session: Session, manifest: Manifest) -> bytes:
    """The printable manifest (A4 PDF). ``Conflict`` for a draft."""
    # One query for the history's actors and organizations instead of one per event.
    session.scalars(
        select(ManifestEvent)
        .where(ManifestEvent.manifest_id == manifest.id)
        .options(selectinload(ManifestEvent.actor), selectinload(ManifestEvent.actor_org))
    ).all()
    return render_manifest_pdf(manifest, print_context(session, manifest))


def manifest_qr(manifest: Manifest) -> bytes:
    """The QR code of the manifest's scan URL as a PNG. ``Conflict`` for a draft."""
    return qr_png(manifest_qr_url(manifest))


def pdf_filename(manifest: Manifest) -> str:
    return f"manifest-{manifest.number}.pdf"
