"""Reference data: waste catalogue, exemptions, treatment methods, administrative regions."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.catalog import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.load_reference_command)
