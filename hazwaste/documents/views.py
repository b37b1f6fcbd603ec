"""Document downloads (manifest PDF, QR image) for the parties of a manifest."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("documents", __name__)
