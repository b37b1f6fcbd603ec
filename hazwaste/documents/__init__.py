"""Documents: manifest PDFs, QR images, (later) container labels. Reads manifest models;
the manifest module never imports this package."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.documents import api, views  # noqa: F401  (api routes register on bp)

    app.register_blueprint(views.bp)
