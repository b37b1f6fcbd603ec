"""Translated labels for stored codes (roles, statuses, hazards), and display filters.

Stored values stay language-neutral; pages and documents show them through these maps.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from hazwaste.db import KG_PER_TONNE

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "member": _l("Staff member"),
    "driver": _l("Driver"),
    "inspector": _l("Inspector"),
}
ORG_ROLE_LABELS = {
    "producer": _l("Producer"),
    "carrier": _l("Carrier"),
    "receiver": _l("Receiver"),
}
ORG_STATUS_LABELS = {
    "pending": _l("Pending approval"),
    "approved": _l("Approved"),
    "rejected": _l("Not approved"),
    "suspended": _l("Suspended"),
}
HAZARD_LABELS = {
    "T": _l("Toxic (T)"),
    "C": _l("Corrosive (C)"),
    "I": _l("Ignitable (I)"),
    "R": _l("Reactive (R)"),
    "In": _l("Infectious (In)"),
}
METHOD_KIND_LABELS = {"利用": _l("Utilisation"), "处置": _l("Disposal"), "其他": _l("Other")}
STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "in_transit": _l("In transit"),
    "delivered": _l("Delivered"),
    "received": _l("Received"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "rejected": _l("Rejected"),
}
EVENT_LABELS = {
    "created": _l("Draft created"),
    "edited": _l("Draft edited"),
    "submitted": _l("Submitted"),
    "picked_up": _l("Picked up"),
    "delivered": _l("Arrived at receiver"),
    "received": _l("Received"),
    "rejected": _l("Rejected"),
    "disposed": _l("Disposal recorded"),
    "cancelled": _l("Cancelled"),
    "corrected": _l("Corrected"),
}
PHYSICAL_FORM_LABELS = {
    "solid": _l("Solid"),
    "liquid": _l("Liquid"),
    "semi_solid": _l("Semi-solid"),
    "gas": _l("Gas"),
}
DECISION_LABELS = {
    "accept": _l("Accept"),
    "partial": _l("Partially reject"),
    "reject": _l("Reject"),
}
POSITION_NOTE_LABELS = {
    "denied": _l("Position refused by the user"),
    "unavailable": _l("No position available"),
    "timeout": _l("Position timed out"),
    "not_requested": _l("No position (desktop)"),
    "unsupported": _l("Device cannot give a position"),
}
RULE_LABELS = {
    "TRANSIT_OVERDUE": _l("Transit overdue"),
    "RECEIPT_OVERDUE": _l("Receipt overdue"),
    "WEIGHT_GAP": _l("Weight gap between loading and receipt"),
    "PRODUCER_BALANCE": _l("Producer stock does not balance"),
    "RECEIVER_BALANCE": _l("Receiver disposed of more than it received"),
    "OVER_CAPACITY": _l("Receiver over licensed capacity"),
    "STORAGE_OVERDUE": _l("Stored for more than a year"),
    "OVER_PLAN": _l("Above the management plan"),
    "LICENCE_MISMATCH": _l("Outside the licence"),
    "LOCATION_MISMATCH": _l("Hand-off away from the registered site"),
    "NEVER_PICKED_UP": _l("Submitted, never picked up"),
    "LICENCE_EXPIRING": _l("Licence ending without a renewal"),
}
LICENCE_MODE_LABELS = {
    "collect": _l("Collection"),
    "store": _l("Storage"),
    "utilise": _l("Utilisation"),
    "dispose": _l("Disposal"),
}


def licence_mode_label(mode: str) -> str:
    """收集/贮存/利用/处置 of a licence mode code."""
    return str(LICENCE_MODE_LABELS.get(mode, mode))


SEVERITY_LABELS = {
    "low": _l("Low"),
    "medium": _l("Medium"),
    "high": _l("High"),
    "critical": _l("Critical (≥ 3 t)"),
}
FLAG_STATUS_LABELS = {"open": _l("Open"), "resolved": _l("Resolved by data")}
REGION_LEVEL_LABELS = {
    "province": _l("Province"),
    "prefecture": _l("Prefecture"),
    "county": _l("County"),
}


def _label(table: dict[str, Any], value: str) -> str:
    return str(table.get(value, value))


def local_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def datetime_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in China Standard Time."""
    if value is None:
        return ""
    return value.astimezone(local_tz()).strftime(fmt)


def date_iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def kg(value: Decimal | None) -> str:
    """A weight in kilograms with locale grouping, exact (no rounding beyond the gram)."""
    if value is None:
        return ""
    return str(format_decimal(Decimal(value).normalize(), format="#,##0.###"))


def tonnes(value: Decimal | None) -> str:
    if value is None:
        return ""
    return str(format_decimal((Decimal(value) / KG_PER_TONNE).normalize(), format="#,##0.######"))


def method_name(method: Any) -> str:
    """Chinese name in Chinese, our English translation otherwise."""
    from flask_babel import get_locale

    return method.name_zh if str(get_locale()).startswith("zh") else method.name_en


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        datetime_local=datetime_local, date_iso=date_iso, kg=kg, tonnes=tonnes
    )

    @app.context_processor
    def labels() -> dict[str, Any]:
        return {
            "role_label": lambda v: _label(ROLE_LABELS, v),
            "org_role_label": lambda v: _label(ORG_ROLE_LABELS, v),
            "org_status_label": lambda v: _label(ORG_STATUS_LABELS, v),
            "hazard_label": lambda v: _label(HAZARD_LABELS, v),
            "method_kind_label": lambda v: _label(METHOD_KIND_LABELS, v),
            "region_level_label": lambda v: _label(REGION_LEVEL_LABELS, v),
            "method_name": method_name,
            "licence_mode_label": licence_mode_label,
            "status_label": lambda v: _label(STATUS_LABELS, v),
            "event_label": lambda v: _label(EVENT_LABELS, v),
            "form_label": lambda v: _label(PHYSICAL_FORM_LABELS, v),
            "decision_label": lambda v: _label(DECISION_LABELS, v),
            "position_note_label": lambda v: _label(POSITION_NOTE_LABELS, v),
            "rule_label": lambda v: _label(RULE_LABELS, v),
            "severity_label": lambda v: _label(SEVERITY_LABELS, v),
            "flag_status_label": lambda v: _label(FLAG_STATUS_LABELS, v),
            "current_user": current_user,
        }
