"""Document downloads (manifest PDF, QR image) for those who may see the manifest."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from flask_babel import gettext as _
from flask_login import current_user

from hazwaste.accounts.models import User
from hazwaste.accounts.permissions import login_required
from hazwaste.documents.manifest_pdf import render_manifest_pdf
from hazwaste.documents.qr import qr_png
from hazwaste.errors import Conflict
from hazwaste.extensions import db
from hazwaste.manifests import services as manifests
from hazwaste.manifests.models import Manifest
from hazwaste.manifests.tokens import scan_url
from hazwaste.permits import services as permits

bp = Blueprint("documents", __name__)


def _issued(user: User, manifest_id: int) -> Manifest:
    manifest = manifests.get_visible(db.session, user, manifest_id)
    if manifest.number is None:
        raise Conflict(
            _("A draft has no QR code or printable manifest yet."), status=manifest.status.value
        )
    return manifest


def pdf_response(manifest: Manifest) -> Response:
    licences = sorted(
        {
            lic.number
            for line in manifest.lines
            for lic in permits.covering_licences(
                db.session, manifest.receiver_id, line.waste_code, manifest.planned_date
            )
        }
    )
    body = render_manifest_pdf(manifest, scan_url(manifest.id, manifest.number or ""), licences)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="manifest-{manifest.number}.pdf"'
    return response


def qr_response(manifest: Manifest) -> Response:
    response = Response(qr_png(scan_url(manifest.id, manifest.number or "")), mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/manifests/<int:manifest_id>/manifest.pdf")
@login_required
def manifest_pdf(manifest_id: int) -> Any:
    return pdf_response(_issued(current_user, manifest_id))


@bp.get("/manifests/<int:manifest_id>/qr.png")
@login_required
def manifest_qr(manifest_id: int) -> Any:
    return qr_response(_issued(current_user, manifest_id))
