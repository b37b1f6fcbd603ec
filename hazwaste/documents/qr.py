"""QR images: the manifest's signed scan URL, as a PNG any phone camera reads."""

from __future__ import annotations

import io
from functools import lru_cache

import qrcode
from flask_babel import gettext as _
from qrcode.constants import ERROR_CORRECT_M

from hazwaste.errors import Conflict
from hazwaste.manifests.models import Manifest
from hazwaste.manifests.tokens import scan_url


@lru_cache(maxsize=512)
def qr_png(data: str, box_size: int = 8, border: int = 4) -> bytes:
    """PNG of ``data``: error correction M (15 % of the code may be smudged) and the
    standard 4-module quiet zone, ``box_size`` pixels per module.

    Cached: choosing the best mask pattern is a third of a manifest PDF's render time, and
    a manifest's URL (hence its image) never changes."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def manifest_qr_url(manifest: Manifest) -> str:
    """The URL the manifest's QR code encodes (:func:`hazwaste.manifests.tokens.scan_url`).

    Needs a request context (for the path; the host is ``PUBLIC_BASE_URL``). A draft has
    no number and therefore no QR code: ``Conflict`` carrying the current status.
    """
    if manifest.number is None:
        raise Conflict(
            _("A draft has no QR code or printable manifest yet."), status=manifest.status.value
        )
    return scan_url(manifest.id, manifest.number)
