"""Documents: manifest PDFs, QR images, (later) container labels. Reads manifest models;
the manifest module never imports this package."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.documents import views

    app.register_blueprint(views.bp)
