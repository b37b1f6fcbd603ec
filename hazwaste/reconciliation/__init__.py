"""Reconciliation: set-based rules comparing generated, shipped, received and disposed
tonnage; findings become flags that regulators work as cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy.orm import Session

from hazwaste.events import Event
from hazwaste.events import types as event_types

#: Outbox job kind: re-evaluate one manifest's rules after its receipt.
RECONCILE_MANIFEST = "reconcile.manifest"


class ManifestJobSchema(Schema):
    manifest_id = fields.Integer(required=True, strict=True)


#: The events after which a manifest's rules are evaluated again.
RECONCILE_AFTER = frozenset({event_types.MANIFEST_RECEIVED, event_types.MANIFEST_REJECTED})


def _after_receipt(session: Session, now: datetime, event: Event) -> None:
    """Events subscriber: after a receipt (published in the receipt's transaction, handed
    over after its commit) enqueue the manifest's incremental reconciliation — never inside
    the hand-off and its locks. Keyed per manifest, so the receipt's second event (a receipt
    that is also a rejection) adds nothing."""
    from hazwaste.jobs import outbox

    if event.type not in RECONCILE_AFTER or event.subject_kind != "manifest":
        return
    outbox.enqueue(
        session,
        now,
        RECONCILE_MANIFEST,
        {"manifest_id": event.subject_id},
        key=f"{RECONCILE_MANIFEST}:receipt:{event.subject_id}",
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


def _after_schedule_loaded(session: Session, now: datetime, year: int) -> int:
    """Holidays hook, after the manifests' due dates were computed again in the same job:
    RECEIPT_OVERDUE is evaluated again (one set-based run of that rule), so a flag raised
    from an estimated due date follows the official one. Deferred while a full run holds
    the lock. Returns 0 (it changes flags, not dates)."""
    from hazwaste.jobs.outbox import JobDeferred
    from hazwaste.reconciliation import services

    try:
        services.run(session, now, rules=["RECEIPT_OVERDUE"])
    except services.RunRefused as exc:
        raise JobDeferred(str(exc)) from exc
    return 0


def _summary(payload: dict[str, Any]) -> str:
    return str(_l("manifest %(id)s", id=payload.get("manifest_id")))


def init_app(app: Flask) -> None:
    from hazwaste import events
    from hazwaste.holidays import services as holidays
    from hazwaste.jobs import outbox
    from hazwaste.reconciliation import api, views  # noqa: F401  (api routes register on bp)
    from hazwaste.reconciliation.cli import reconcile_command, totals_group
    from hazwaste.reconciliation.totals import COMPACT_EVERY, compact_job

    events.subscribe("reconciliation", _after_receipt)
    # After the manifests' own hook (registered first: manifests come before us).
    holidays.after_load("reconciliation.receipt_overdue", _after_schedule_loaded)
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
