"""QR scan pages: light, mobile-first; one page per manifest that offers the right action.

``GET /m/<token>`` is the URL inside the manifest QR. A forged or altered token gets the
"invalid code" page (404). Who you are decides what you see:

* logged out, or logged in without the right to see the manifest → the verification view
  (number, status, party names, waste categories, total tonnage — nothing private), with a
  "log in" link that comes back to the same URL;
* the carrier's driver → "pick up" on ``submitted``, "confirm arrival" on ``in_transit``;
* the receiver's staff → "record arrival" on ``in_transit`` (the receiver's first scan),
  "receive" on ``delivered`` (with a confirmation step showing the computed discrepancy),
  "dispose" on ``received``;
* any other party or regulator allowed to see it → the summary (status, receipt due date,
  rejection reasons), no actions.

``POST /m/<token>/<verb>`` parses the form with the same schemas as the API and calls the
same lifecycle verbs (:mod:`hazwaste.manifests.lifecycle`); this module holds no rule of its
own. Bad input re-renders the page with 422 and the messages next to their fields, a lost
race (someone else acted first) renders it with 409 naming the current status.
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
from werkzeug.datastructures import MultiDict

from hazwaste.api.models import IdempotencyRecord
from hazwaste.catalog.models import TreatmentMethod
from hazwaste.db import utcnow
from hazwaste.errors import Conflict, Forbidden, Invalid
from hazwaste.extensions import db
from hazwaste.labels import STATUS_LABELS, method_name
from hazwaste.ledger import services as ledger
from hazwaste.manifests import access, lifecycle
from hazwaste.manifests.models import Manifest
from hazwaste.manifests.schemas import DeliverySchema, DisposalSchema, PickupSchema, ReceiptSchema
from hazwaste.manifests.services import local_date
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

#: Fields the scan forms show a message next to; any other message goes above the form.
FORM_FIELDS = frozenset({"vehicle_id", "unit", "container_codes", "note"})
LINE_FIELDS = frozenset(
    {
        "loaded_qty",
        "received_qty",
        "decision",
        "rejected_qty",
        "rejection_reason",
        "method",
        "disposed_kg",
        "disposal_date",
    }
)
#: The lifecycle names a line's problem by the weight it computed in kg; the form field the
#: user typed it in is the quantity in the chosen unit.
FORM_NAME = {
    "loaded_kg": "loaded_qty",
    "received_kg": "received_qty",
    "rejected_kg": "rejected_qty",
}

#: Form keys kept apart from the idempotency key so API keys and form keys never collide.
KEY_PREFIX = "scan:"


class _AlreadyRecorded(Exception):
    """A request with this form's idempotency key was recorded first; replay its result."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


def manifest_for_token(token: str) -> Manifest | None:
    """The manifest a genuine token names, or None (forged, altered, or no such manifest)."""
    parsed = read_token(token)
    if parsed is None:
        return None
    manifest_id, number = parsed
    manifest = db.session.get(Manifest, manifest_id, options=[selectinload(Manifest.lines)])
    if manifest is None or manifest.number != number:
        return None
    return manifest


def _methods_for(manifest: Manifest) -> dict[int, list[tuple[str, str]]]:
    """Per line, ``(code, name)`` of the methods the receiver's licences covering its waste
    code allow today (China date). The dispose verb checks again on the date typed."""
    today = local_date(utcnow())
    codes = {
        line.id: sorted(
            {
                code
                for lic in permits.covering_licences(
                    db.session, manifest.receiver_id, line.waste_code, today
                )
                for code in lic.method_codes
            }
        )
        for line in manifest.lines
    }
    wanted = {code for line_codes in codes.values() for code in line_codes}
    names = {
        m.code: method_name(m)
        for m in db.session.scalars(select(TreatmentMethod).where(TreatmentMethod.code.in_(wanted)))
    }
    return {line_id: [(c, names.get(c, c)) for c in found] for line_id, found in codes.items()}


def _messages(value: Any) -> list[str]:
    """Every message inside a (possibly nested) marshmallow/lifecycle error value."""
    if isinstance(value, dict):
        return [m for inner in value.values() for m in _messages(inner)]
    if isinstance(value, list | tuple):
        return [m for inner in value for m in _messages(inner)]
    return [str(value)]


def _place_errors(errors: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Split errors into those shown next to a form field and the rest (shown on top).

    Line errors are keyed by the row's index in the form; the scan forms send every line
    (each row carries its ``line_id``), so the index is the manifest's line order.
    """
    placed: dict[str, Any] = {}
    general: list[str] = []
    for key, value in errors.items():
        if key == "lines" and isinstance(value, dict):
            rows: dict[int, dict[str, list[str]]] = {}
            for index, row in value.items():
                if not isinstance(index, int) or not isinstance(row, dict):
                    general += _messages(row)
                    continue
                for name, messages in row.items():
                    name = FORM_NAME.get(name, name)
                    if name in LINE_FIELDS:
                        rows.setdefault(index, {}).setdefault(name, []).extend(_messages(messages))
                    else:
                        general += _messages(messages)
            placed["lines"] = rows
        elif key in FORM_FIELDS:
            placed[key] = _messages(value)
        else:
            general += _messages(value)
    return placed, general


def _page(
    manifest: Manifest,
    token: str,
    *,
    posted: str = "",
    errors: dict[str, Any] | None = None,
    values: MultiDict[str, str] | None = None,
    preview: list[dict[str, Any]] | None = None,
    message: str = "",
) -> str:
    """The manifest's scan page for the current user (summary plus the forms it may use).

    ``posted`` names the form whose ``errors``/``values`` are shown again (a form posted
    with bad input keeps what was typed); the other forms start fresh.
    """
    actions = lifecycle.available_actions(manifest, current_user)
    placed, general = _place_errors(errors or {})
    return render_template(
        "scan/manifest.html",
        manifest=manifest,
        token=token,
        actions=actions,
        posted=posted,
        errors=placed,
        general_errors=general,
        values=values if values is not None else MultiDict(),
        preview=preview,
        # Preview lines beyond the WEIGHT_GAP tolerance: line number → the tolerance (%).
        beyond={gap["line_no"]: gap["tolerance_pct"] for gap in lifecycle.beyond_tolerance(preview)}
        if preview
        else {},
        message=message,
        # A fresh key per rendered form: the same form sent twice is recognised (see act()).
        key=uuid.uuid4().hex,
        receiver_staff=access.acts_for_receiver(current_user, manifest),
        vehicles=(
            permits.org_vehicles(db.session, manifest.carrier_id, active_only=True)
            if "pickup" in actions
            else []
        ),
        containers=(
            ledger.manifest_containers(db.session, manifest.id)
            if {"pickup", "receive"} & set(actions)
            else []
        ),
        methods=_methods_for(manifest) if "dispose" in actions else {},
        today=local_date(utcnow()).isoformat(),
    )


@bp.get("/m/<token>")
def manifest(token: str) -> Any:
    """The page behind the QR: verification view, summary, or the user's next action."""
    found = manifest_for_token(token)
    if found is None:
        return render_template("scan/invalid.html"), 404
    if not current_user.is_authenticated or not access.can_view(current_user, found):
        return render_template("scan/verify.html", manifest=found)
    return _page(found, token)


def _request_hash(verb: str, token: str) -> str:
    fields = sorted(
        (k, v)
        for k, v in request.form.items(multi=True)
        if k not in ("csrf_token", "idempotency_key")
    )
    return hashlib.sha256(repr((verb, token, fields)).encode()).hexdigest()


def _form_key() -> str | None:
    key = (request.form.get("idempotency_key") or "").strip()
    return KEY_PREFIX + key[:150] if key else None


def _recorded(key: str) -> IdempotencyRecord | None:
    return db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == current_user.id, IdempotencyRecord.key == key
        )
    )


def _reserve(key: str, request_hash: str, result_url: str) -> None:
    """Store the form's key with its result in the transaction of the change itself.

    Why this way: on a phone with poor signal the same form is often sent twice (the first
    answer never arrived, the driver taps again). The key is committed together with the
    hand-off, so a retry either finds it (and is shown the first result instead of a
    conflict) or, when the first attempt failed and rolled back, runs normally. A retry
    arriving while the first is still running waits on the unique (user, key) index — on
    PostgreSQL the row lock, on SQLite the write lock — and then finds the key taken.
    """
    db.session.add(
        IdempotencyRecord(
            user_id=current_user.id,
            key=key,
            request_hash=request_hash,
            status=303,
            body=result_url,
            created_at=utcnow(),
        )
    )
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        stored = _recorded(key)
        if stored is None:  # pragma: no cover - the other request rolled back meanwhile
            raise
        raise _AlreadyRecorded(stored) from None


def _replay(stored: IdempotencyRecord, request_hash: str) -> Any:
    if stored.request_hash == request_hash:
        flash(_("This was already recorded."))
    else:
        # Same form sent again with other values (e.g. after the back button): the first
        # submission stands; the manifest page shows what it recorded.
        flash(_("This form was already sent; its first submission was kept."), "error")
    return redirect(stored.body)


@bp.post("/m/<token>/<verb>")
def act(token: str, verb: str) -> Any:
    """Perform ``verb`` (pickup, deliver, receive, dispose) from the scan page's form.

    Redirects back to the scan page with a message on success; 422 with field messages and
    nothing changed on bad input; 409 naming the current status when someone else acted
    first; a retry of an already recorded form (same ``idempotency_key``) shows the first
    result. ``receive`` without ``confirm=1`` only shows the computed discrepancies.
    """
    found = manifest_for_token(token)
    if found is None or verb not in VERBS:
        return render_template("scan/invalid.html"), 404
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=url_for("scan.manifest", token=token)))
    if not access.can_view(current_user, found):
        raise Forbidden()
    here = url_for("scan.manifest", token=token)
    key = _form_key()
    request_hash = _request_hash(verb, token)
    if key is not None:
        stored = _recorded(key)
        if stored is not None:
            return _replay(stored, request_hash)
    schema_cls, verb_fn = VERBS[verb]
    try:
        # Party (403) and state (409) before the form, as the verb itself would decide.
        lifecycle.ensure_allowed(verb, found, current_user)
        data = schema_cls().load(nested_form(request.form))
        if verb == "receive" and request.form.get("confirm") != "1":
            # The confirmation step: the computed discrepancy, before anything is saved.
            rows, errors = lifecycle.validate_receipt(found, data)
            if errors:
                raise Invalid(_("The receipt cannot be recorded yet."), errors)
            edit = request.form.get("edit") == "1"
            return _page(
                found, token, posted=verb, values=request.form, preview=None if edit else rows
            )
        if key is not None:
            _reserve(key, request_hash, here)
        verb_fn(db.session, utcnow(), found, current_user, data)
    except _AlreadyRecorded as done:
        return _replay(done.record, request_hash)
    except ValidationError as exc:
        db.session.rollback()
        return _page(
            found,
            token,
            posted=verb,
            errors=field_errors(exc),
            values=request.form,
            message=_("Please correct the marked fields."),
        ), 422
    except Invalid as exc:
        db.session.rollback()
        return _page(
            found, token, posted=verb, errors=exc.fields, values=request.form, message=exc.message
        ), 422
    except Conflict:
        db.session.rollback()
        current = manifest_for_token(token) or found
        status = str(STATUS_LABELS.get(current.status.value, current.status.value))
        message = _(
            "Not recorded: someone else acted on this manifest first. It is now: %(status)s.",
            status=status,
        )
        return _page(current, token, message=message), 409
    except Forbidden:
        db.session.rollback()
        raise
    db.session.commit()
    flash(
        {
            "pickup": _("Pickup recorded."),
            "deliver": _("Arrival recorded."),
            "receive": _("Receipt recorded."),
            "dispose": _("Disposal recorded."),
        }[verb]
    )
    return redirect(here)
