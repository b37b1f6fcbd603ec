"""Reconciliation: set-based rules comparing generated, shipped, received and disposed
tonnage; findings become flags that regulators work as cases."""

from __future__ import annotations

from typing import Any

from flask import Flask


def _after_receipt(manifest: Any, session: Any, now: Any) -> None:
    """Re-evaluate the manifest's own rules right after its receipt, in a savepoint: if a
    full run is in progress the incremental one is skipped (the full run covers it)."""
    from hazwaste.reconciliation import services

    try:
        with session.begin_nested():
            services.run(session, now, manifest_id=manifest.id)
    except services.RunRefused:
        pass


def init_app(app: Flask) -> None:
    from hazwaste.manifests.signals import receipt_recorded
    from hazwaste.reconciliation import api, views  # noqa: F401  (api routes register on bp)
    from hazwaste.reconciliation.cli import reconcile_command, totals_group

    receipt_recorded.connect(_after_receipt)
    app.register_blueprint(views.bp)
    app.cli.add_command(reconcile_command)
    app.cli.add_command(totals_group)
