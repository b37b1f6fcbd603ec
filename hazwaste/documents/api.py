"""``GET /api/v1/manifests/{id}/pdf`` and ``/qr.png``."""

from __future__ import annotations

from typing import Any

from hazwaste.api.core import bp, current_api_user, token_required
from hazwaste.api.spec import document
from hazwaste.documents.views import _issued, pdf_response, qr_response


@bp.get("/manifests/<int:manifest_id>/pdf")
@token_required
@document(
    "/api/v1/manifests/{manifest_id}/pdf",
    "get",
    "The manifest as a PDF (A4)",
    tags=["manifests"],
    content_type="application/pdf",
    statuses={409: "A draft has no printable manifest"},
)
def manifest_pdf(manifest_id: int) -> Any:
    return pdf_response(_issued(current_api_user(), manifest_id))


@bp.get("/manifests/<int:manifest_id>/qr.png")
@token_required
@document(
    "/api/v1/manifests/{manifest_id}/qr.png",
    "get",
    "The manifest's QR code (PNG)",
    tags=["manifests"],
    content_type="image/png",
    statuses={409: "A draft has no QR code"},
)
def manifest_qr(manifest_id: int) -> Any:
    return qr_response(_issued(current_api_user(), manifest_id))
