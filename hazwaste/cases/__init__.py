"""Cases: how regulators work a reconciliation flag (queue, assignment, notes, findings,
referral) and how the enterprise concerned answers it."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.cases import api, labels, models, views  # noqa: F401  (api registers on bp)

    labels.init_app(app)
    app.register_blueprint(views.bp)
