"""Oversight: the regulator's view of its jurisdiction — balances and flows, risk grades
(环境信用评价 support), 双随机 inspection draws, the landing dashboard and case dossiers."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.oversight import api, models, views  # noqa: F401  (api registers on core.bp)

    app.register_blueprint(views.bp)
