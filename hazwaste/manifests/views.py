"""Manifest pages for office staff: list, form, detail with timeline, lifecycle actions."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("manifests", __name__, url_prefix="/manifests")
