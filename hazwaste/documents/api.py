"""``GET /api/v1/manifests/{number_or_id}/pdf`` and ``/qr.png`` (bearer token).

Same services as the pages: 404 for a manifest the caller may not see, 409 with the current
``status`` for a draft.
"""

from __future__ import annotations

from typing import Any

from hazwaste.api.core import bp, current_api_user, token_required
from hazwaste.api.spec import document
from hazwaste.documents import services as documents
from hazwaste.documents.views import pdf_response, qr_response
from hazwaste.extensions import db

STATUSES = {
    404: "No such manifest, or not visible to the caller",
    409: "A draft has no number, QR code or printable manifest yet",
}


@bp.get("/manifests/<digits:number_or_id>/pdf")
@token_required
@document(
    "/api/v1/manifests/{number_or_id}/pdf",
    "get",
    "The manifest as a printable A4 PDF (危险废物转移联单) with QR code, signatures and history",
    tags=["manifests"],
    content_type="application/pdf",
    statuses=STATUSES,
)
def manifest_pdf(number_or_id: str) -> Any:
    return pdf_response(documents.issued_manifest(db.session, current_api_user(), number_or_id))


@bp.get("/manifests/<digits:number_or_id>/qr.png")
@token_required
@document(
    "/api/v1/manifests/{number_or_id}/qr.png",
    "get",
    "The manifest's QR code (PNG) encoding its signed scan URL",
    tags=["manifests"],
    content_type="image/png",
    statuses=STATUSES,
)
def manifest_qr(number_or_id: str) -> Any:
    return qr_response(documents.issued_manifest(db.session, current_api_user(), number_or_id))
