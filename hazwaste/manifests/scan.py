"""QR scan pages: light, mobile-first; one page per manifest that offers the right action.

``/m/<token>`` is the URL inside the manifest QR. A forged or altered token gets the
"invalid code" page; a logged-out visitor (a road inspector, say) gets the verification view
only; the carrier's driver gets "pick up" / "confirm arrival", the receiver "record arrival",
"receive" (with a confirmation step showing the computed discrepancy) and "dispose".
The forms post to the same lifecycle verbs and schemas as the API.

Poor signal: each form carries an idempotency key made when it was rendered; a retried post
with the same key shows the first result instead of a conflict.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from hazwaste.api.models import IdempotencyRecord
from hazwaste.db import utcnow
from hazwaste.errors import Conflict, Forbidden, Invalid
from hazwaste.extensions import db
from hazwaste.ledger import services as ledger
from hazwaste.manifests import access, lifecycle
from hazwaste.manifests.models import Manifest
from hazwaste.manifests.schemas import DeliverySchema, DisposalSchema, PickupSchema, ReceiptSchema
from hazwaste.manifests.tokens import read_token
from hazwaste.permits import services as permits
from hazwaste.schemas import field_errors, nested_form

bp = Blueprint("scan", __name__)

VERBS = {
    "pickup": (PickupSchema, lifecycle.pickup),
    "deliver": (DeliverySchema, lifecycle.deliver),
    "receive": (ReceiptSchema, lifecycle.receive),
    "dispose": (DisposalSchema, lifecycle.dispose),
}


def manifest_for_token(token: str) -> Manifest | None:
    parsed = read_token(token)
    if parsed is None:
        return None
    manifest_id, number = parsed
    manifest = db.session.get(Manifest, manifest_id, options=[selectinload(Manifest.lines)])
    if manifest is None or manifest.number != number:
        return None
    return manifest


def _methods_for(manifest: Manifest) -> dict[int, list[str]]:
    """Per line, the methods the receiver's licences covering its code allow today."""
    today = utcnow().date()
    return {
        line.id: sorted(
            {
                m
                for lic in permits.covering_licences(
                    db.session, manifest.receiver_id, line.waste_code, today
                )
                for m in lic.method_codes
            }
        )
        for line in manifest.lines
    }


def _page(
    manifest: Manifest,
    token: str,
    errors: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    preview: list[dict[str, Any]] | None = None,
    message: str = "",
) -> str:
    actions = lifecycle.available_actions(manifest, current_user)
    return render_template(
        "scan/manifest.html",
        manifest=manifest,
        token=token,
        actions=actions,
        errors=errors or {},
        values=values or {},
        preview=preview,
        message=message,
        key=uuid.uuid4().hex,
        vehicles=permits.org_vehicles(db.session, manifest.carrier_id, active_only=True),
        containers=ledger.manifest_containers(db.session, manifest.id),
        methods=_methods_for(manifest) if "dispose" in actions else {},
    )


@bp.get("/m/<token>")
def manifest(token: str) -> Any:
    found = manifest_for_token(token)
    if found is None:
        return render_template("scan/invalid.html"), 404
    if not current_user.is_authenticated or not access.can_view(current_user, found):
        return render_template("scan/verify.html", manifest=found, token=token)
    return _page(found, token)


def _request_hash(verb: str) -> str:
    fields = sorted(
        (k, v)
        for k, v in request.form.items(multi=True)
        if k not in ("csrf_token", "idempotency_key")
    )
    return hashlib.sha256(repr((verb, fields)).encode()).hexdigest()


@bp.post("/m/<token>/<verb>")
def act(token: str, verb: str) -> Any:
    found = manifest_for_token(token)
    if found is None:
        return render_template("scan/invalid.html"), 404
    if verb not in VERBS:
        return render_template("scan/invalid.html"), 404
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=url_for("scan.manifest", token=token)))
    if not access.can_view(current_user, found):
        raise Forbidden()
    key = (request.form.get("idempotency_key") or "")[:200]
    here = url_for("scan.manifest", token=token)
    if key:
        stored = db.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == current_user.id, IdempotencyRecord.key == key
            )
        )
        if stored is not None and stored.request_hash == _request_hash(verb):
            flash(_("This was already recorded."))
            return redirect(stored.body)
    schema_cls, verb_fn = VERBS[verb]
    raw = nested_form(request.form)
    if "container_codes" in request.form:
        raw["container_codes"] = request.form.get("container_codes", "")
    try:
        data = schema_cls().load(raw)
        if verb == "receive" and request.form.get("confirm") != "1":
            # Show the computed discrepancy before anything is saved.
            rows, errors = lifecycle.validate_receipt(found, data)
            if errors:
                raise Invalid(_("The receipt cannot be recorded yet."), errors)
            return _page(found, token, values=request.form, preview=rows), 200
        verb_fn(db.session, utcnow(), found, current_user, data)
    except ValidationError as exc:
        db.session.rollback()
        return _page(found, token, errors=field_errors(exc), values=request.form), 422
    except Invalid as exc:
        db.session.rollback()
        return _page(found, token, errors=exc.fields, values=request.form, message=exc.message), 422
    except Conflict as exc:
        db.session.rollback()
        found = manifest_for_token(token) or found
        return _page(found, token, message=exc.message), 409
    if key:
        db.session.add(
            IdempotencyRecord(
                user_id=current_user.id,
                key=key,
                request_hash=_request_hash(verb),
                status=303,
                body=here,
                created_at=utcnow(),
            )
        )
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent retry with the same key committed first
        db.session.rollback()
    flash(
        {
            "pickup": _("Pickup recorded."),
            "deliver": _("Arrival recorded."),
            "receive": _("Receipt recorded."),
            "dispose": _("Disposal recorded."),
        }[verb]
    )
    return redirect(here)
