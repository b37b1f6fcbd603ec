"""Manifests: drafts, the lifecycle state machine, QR scan pages, lists and timelines."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.manifests import api, scan, views  # noqa: F401  (api routes register on bp)

    app.register_blueprint(views.bp)
    app.register_blueprint(scan.bp)
