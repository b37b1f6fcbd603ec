"""Home page and dashboards: where each kind of user lands after logging in."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste import labels
    from hazwaste.web import views

    labels.init_app(app)
    app.register_blueprint(views.bp)
