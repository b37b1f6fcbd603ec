"""Permits: licences, carrier permits, vehicles, drivers."""

from flask import Flask


def init_app(app: Flask) -> None:
    # The API routes register on the API blueprint, which create_app registers after us.
    from hazwaste.permits import api, views  # noqa: F401

    app.register_blueprint(views.bp)
