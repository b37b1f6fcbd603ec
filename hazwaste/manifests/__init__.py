"""Manifests: drafts, the lifecycle state machine, QR scan pages, lists and timelines."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.holidays import services as holidays
    from hazwaste.manifests import api, lifecycle, scan, views  # noqa: F401  (api routes)

    holidays.after_load("manifests.receipt_due", lifecycle.recompute_receipt_due)

    app.register_blueprint(views.bp)
    app.register_blueprint(scan.bp)
