"""Permits: licences, carrier permits, vehicles, drivers."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.permits import views

    app.register_blueprint(views.bp)
