"""hazwaste: hazardous-waste full-process tracking (危险废物全过程监管系统)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, error handlers, CLI.

    ``config`` overrides values loaded from :mod:`hazwaste.config` (tests pass theirs here).
    Wiring only: every domain brings its own ``init_app``.
    """
    from hazwaste import (
        accounts,
        api,
        audit,
        cases,
        catalog,
        demo,
        documents,
        errors,
        events,
        holidays,
        i18n,
        jobs,
        ledger,
        limits,
        mail,
        manifests,
        notifications,
        oversight,
        permits,
        plans,
        public_url,
        reconciliation,
        security,
        web,
        webhooks,
    )
    from hazwaste.config import load_config
    from hazwaste.extensions import init_extensions

    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    load_config(app, config)
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only the client address: links and cookies keep their own configuration.
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    init_extensions(app)
    limits.init_app(app)
    public_url.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    for domain in (
        web,
        accounts,
        catalog,
        permits,
        jobs,
        events,
        mail,
        holidays,
        manifests,
        documents,
        reconciliation,
        cases,
        audit,
        demo,
        ledger,
        plans,
        oversight,
        webhooks,
        notifications,
        api,
    ):
        domain.init_app(app)
    return app
