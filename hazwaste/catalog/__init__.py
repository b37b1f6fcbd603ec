"""Reference data: waste catalogue, exemptions, treatment methods, administrative regions."""

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from hazwaste.catalog import api, cli, services, views  # noqa: F401  (API routes)

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.load_reference_command)
    app.cli.add_command(cli.catalog_cli)
    labels = {"category": _l("Category"), "description": _l("Description"), "hazard": _l("Hazards")}
    app.jinja_env.globals["edition_field_label"] = lambda name: str(labels.get(name, name))

    from hazwaste.extensions import db

    # The edition whose codes a manifest's lines were checked against (its planned date).
    app.jinja_env.globals["catalogue_edition_on"] = lambda day: services.edition_on(db.session, day)
