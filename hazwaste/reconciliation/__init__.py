"""Reconciliation: set-based rules comparing generated, shipped, received and disposed
tonnage; findings become flags that regulators work as cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy.orm import Session

#: Outbox job kind: re-evaluate one manifest's rules after its receipt.
RECONCILE_MANIFEST = "reconcile.manifest"


class ManifestJobSchema(Schema):
    manifest_id = fields.Integer(required=True, strict=True)


def _after_receipt(manifest: Any, session: Session, now: datetime) -> None:
    """Enqueue the manifest's incremental reconciliation in the receipt's transaction; it
    runs after commit (hazwaste.jobs), outside the hand-off and its locks."""
    from hazwaste.jobs import outbox

    outbox.enqueue(
        session,
        now,
        RECONCILE_MANIFEST,
        {"manifest_id": manifest.id},
        key=f"{RECONCILE_MANIFEST}:receipt:{manifest.id}",
    )


def reconcile_manifest(session: Session, now: datetime, payload: dict[str, Any]) -> None:
    """Job handler: the manifest-scoped rules for one manifest, as of ``now``. Idempotent
    (flags are upserted). While a full run holds the lock the job is deferred: that run may
    have started before the receipt committed, so it does not necessarily cover it."""
    from hazwaste.jobs.outbox import JobDeferred
    from hazwaste.reconciliation import services

    try:
        services.run(session, now, manifest_id=payload["manifest_id"])
    except services.RunRefused as exc:
        raise JobDeferred(str(exc)) from exc


def _summary(payload: dict[str, Any]) -> str:
    return str(_l("manifest %(id)s", id=payload.get("manifest_id")))


def init_app(app: Flask) -> None:
    from hazwaste.jobs import outbox
    from hazwaste.manifests.signals import receipt_recorded
    from hazwaste.reconciliation import api, views  # noqa: F401  (api routes register on bp)
    from hazwaste.reconciliation.cli import reconcile_command, totals_group
    from hazwaste.reconciliation.totals import COMPACT_EVERY, compact_job

    receipt_recorded.connect(_after_receipt)
    outbox.register(
        RECONCILE_MANIFEST,
        reconcile_manifest,
        schema=ManifestJobSchema,
        summary=_summary,
        label=_l("Reconciliation after a receipt"),
    )
    # Hand-offs only insert deltas; the workers fold them into the monthly totals.
    outbox.register_periodic("totals.compact", compact_job, COMPACT_EVERY)
    app.register_blueprint(views.bp)
    app.cli.add_command(reconcile_command)
    app.cli.add_command(totals_group)
