"""Translated labels of case states and findings (template helpers ``case_status_label``,
``finding_label`` and ``note_kind_label``)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

CASE_STATUS_LABELS = {
    "new": _l("New"),
    "investigating": _l("Investigating"),
    "closed": _l("Closed"),
    "referred": _l("Referred to the police"),
}
FINDING_LABELS = {
    "explained": _l("Explained by the enterprise"),
    "violation": _l("Violation confirmed"),
    "false_alarm": _l("False alarm"),
}


def init_app(app: Flask) -> None:
    @app.context_processor
    def case_labels() -> dict[str, Any]:
        return {
            "case_status_label": lambda v: str(CASE_STATUS_LABELS.get(v, v)),
            "finding_label": lambda v: str(FINDING_LABELS.get(v, v)),
        }
