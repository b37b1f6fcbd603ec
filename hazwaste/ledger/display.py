"""Translated labels for container and ledger codes, shared by pages and exports.

Stored values stay language-neutral (``stored``, ``self_used`` …); people read these.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

CONTAINER_STATUS_LABELS = {
    "stored": _l("In store"),
    "assigned": _l("On a manifest"),
    "shipped": _l("Shipped"),
    "received": _l("Received"),
    "missing": _l("Missing at receipt"),
    "disposed": _l("Disposed of"),
    "self_disposed": _l("Used or disposed of on site"),
}
PACKAGING_LABELS = {
    "drum": _l("Drum"),
    "bag": _l("Bag"),
    "tote": _l("Tote (IBC)"),
    "tank": _l("Tank"),
    "box": _l("Box"),
    "other": _l("Other"),
}
LEDGER_KIND_LABELS = {
    "generated": _l("Waste generated"),
    "stored_in": _l("Into storage"),
    "shipped_out": _l("Shipped out (manifest)"),
    "self_used": _l("Used or disposed of on site"),
    "stock_count": _l("Stock count"),
}
STEP_LABELS = {
    "filled": _l("Filled and labelled"),
    "stored": _l("Into storage"),
    "assigned": _l("Put on a manifest"),
    "picked_up": _l("Loaded and picked up"),
    "delivered": _l("Arrived at the receiver"),
    "received": _l("Received"),
    "rejected": _l("Rejected by the receiver"),
    "missing": _l("Not found at receipt"),
    "disposed": _l("Utilised or disposed of by the receiver"),
    "self_disposed": _l("Used or disposed of on site"),
}


def label(table: dict[str, Any], value: Any) -> str:
    value = getattr(value, "value", value)
    return str(table.get(value, value))


def init_app(app: Flask) -> None:
    @app.context_processor
    def ledger_labels() -> dict[str, Any]:
        return {
            "container_status_label": lambda v: label(CONTAINER_STATUS_LABELS, v),
            "packaging_label": lambda v: label(PACKAGING_LABELS, v),
            "ledger_kind_label": lambda v: label(LEDGER_KIND_LABELS, v),
            "step_label": lambda v: label(STEP_LABELS, v),
        }
