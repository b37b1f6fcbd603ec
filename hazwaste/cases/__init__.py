"""Cases: how regulators work a reconciliation flag (queue, assignment, notes, findings,
referral) and how the enterprise concerned answers it."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.cases import models  # noqa: F401  (tables known to the metadata)
