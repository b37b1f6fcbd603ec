"""Management plans (管理计划): per producer, year and waste code, the planned generation,
transfer and receiver; CSV import; plan versus actual; the producer's supervision tier."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.manifests import gates
    from hazwaste.plans import api, services, views  # noqa: F401  (API routes)

    app.register_blueprint(views.bp)
    gates.register_limit("plans", services.plan_limit)
