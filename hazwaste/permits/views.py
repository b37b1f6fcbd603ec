"""Permit pages (licences, transport permits, vehicles, drivers)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("permits", __name__, url_prefix="/permits")
