"""Document downloads (manifest PDF, QR image, container labels) for those who may see them.

The manifest endpoints go through :mod:`hazwaste.documents.services`: a manifest the user may
not see is a 404, a draft (no number, no QR code) a 409.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from flask_babel import gettext as _
from flask_login import current_user

from hazwaste.accounts.permissions import login_required
from hazwaste.documents import services as documents
from hazwaste.extensions import db
from hazwaste.manifests.models import Manifest
from hazwaste.public_url import external_url

bp = Blueprint("documents", __name__)


def pdf_response(manifest: Manifest) -> Response:
    """The manifest PDF, shown inline, saved as ``manifest-<number>.pdf``."""
    response = Response(documents.manifest_pdf(db.session, manifest), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="{documents.pdf_filename(manifest)}"'
    )
    # The PDF names people and carries the signed QR URL: never in a shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def qr_response(manifest: Manifest) -> Response:
    response = Response(documents.manifest_qr(manifest), mimetype="image/png")
    # The image encodes the signed scan URL: like the PDF, never kept in a cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/manifests/<int:manifest_id>/manifest.pdf")
@login_required
def manifest_pdf(manifest_id: int) -> Any:
    return pdf_response(documents.issued_manifest(db.session, current_user, manifest_id))


@bp.get("/manifests/<int:manifest_id>/qr.png")
@login_required
def manifest_qr(manifest_id: int) -> Any:
    return qr_response(documents.issued_manifest(db.session, current_user, manifest_id))


def _label_size() -> int:
    from flask import request

    from hazwaste.documents.labels import SIZES_MM

    try:
        size = int(request.args.get("size", "100"))
    except ValueError:
        size = 0
    if size not in SIZES_MM:
        from hazwaste.errors import Invalid

        msg = _("Choose a label size of 100, 150 or 200 mm.")
        raise Invalid(msg, {"size": [msg]})
    return size


def container_url(code: str) -> str:
    """The container page a label's QR code opens, on ``PUBLIC_BASE_URL``."""
    return external_url("ledger.container_by_code", code=code)


@bp.get("/containers/<key>/label.pdf")
@login_required
def container_label(key: str) -> Any:
    """One HJ 1276 label (``?size=100|150|200``) for a container the user may see."""
    from hazwaste.documents.labels import render_labels
    from hazwaste.ledger import services as ledger

    container = ledger.get_container(db.session, current_user, key)
    body = render_labels([(container, container_url(container.code))], _label_size())
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="label-{container.code}.pdf"'
    return response


@bp.get("/containers/labels.pdf")
@login_required
def container_labels() -> Any:
    """A printable A4 sheet of labels: ``?ids=1,2,3`` or, without ids, every container in
    the producer's store."""
    from flask import request

    from hazwaste.documents.labels import render_labels
    from hazwaste.ledger import services as ledger

    ids = [part for part in request.args.get("ids", "").replace(" ", "").split(",") if part]
    if ids:
        containers = [ledger.get_container(db.session, current_user, key) for key in ids]
    else:
        producer = ledger.producer_of(current_user)
        containers = ledger.containers_in_store(db.session, producer.id)
    if not containers:
        from hazwaste.errors import NotFound

        raise NotFound(_("No containers to label."))
    body = render_labels([(c, container_url(c.code)) for c in containers], _label_size())
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = 'inline; filename="labels.pdf"'
    return response
