"""Management plans (管理计划): per producer, year and waste code, the planned generation,
transfer and receiver; CSV import; plan versus actual; the producer's supervision tier."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.plans import api, views  # noqa: F401  (api routes register on the API bp)

    app.register_blueprint(views.bp)
