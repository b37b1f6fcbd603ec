"""Manifest endpoints of the JSON API: the same services, verbs and schemas as the pages.

Every success body is ``{"data": …}`` (lists add ``"meta"``: page, per_page, total, pages);
quantities are decimal strings in kg. Errors are ``{"error": {"code", "message", "fields"}}``:

- 401 without a valid bearer token;
- 404 when the manifest does not exist *or* is not visible to the user (drafts are visible
  to the producer's office staff only; regulators see manifests touching their
  jurisdiction), so existence never leaks;
- 403 when the user sees the manifest but the action is not its party's;
- 409 when the manifest is in the wrong state; ``error.status`` is the current status;
- 422 with ``fields`` (nested like the body: ``fields.lines.0.loaded_qty``) for invalid data.

Every POST and PATCH accepts ``Idempotency-Key``: a retry returns the first successful
result (header ``Idempotent-Replayed: true``), see :func:`hazwaste.api.core.idempotent`.
Each request commits once, through :func:`hazwaste.api.core.commit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Response, current_app
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy.orm import Session, selectinload

from hazwaste.accounts.models import User
from hazwaste.api.core import (
    bp,
    commit,
    current_api_user,
    idempotent,
    load_json,
    load_query,
    nothing_recorded,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import document
from hazwaste.db import utcnow
from hazwaste.errors import Conflict, Forbidden, Invalid
from hazwaste.extensions import db
from hazwaste.ledger import services as ledger
from hazwaste.manifests import access, lifecycle, services
from hazwaste.manifests.models import Manifest, ManifestStatus
from hazwaste.manifests.schemas import (
    CancelSchema,
    CorrectionSchema,
    DeliverySchema,
    DisposalSchema,
    EventOutSchema,
    ListArgsSchema,
    ManifestDraftSchema,
    ManifestOutSchema,
    PickupSchema,
    ReceiptSchema,
)
from hazwaste.pagination import paginate
from hazwaste.permits.models import Driver

TAGS = ["manifests"]
CONFLICT = {409: "Wrong state for this action; `error.status` is the current status"}
ONE = "/api/v1/manifests/{manifest_id}"

Verb = Callable[[Session, datetime, Manifest, User, Any], Manifest]


def _out(manifest: Manifest) -> dict[str, Any]:
    """The manifest as stored: flushed and reloaded, so quantities read back exact to the gram
    (as ``1248.500``) — the same body before the commit as a later GET returns."""
    db.session.flush()
    db.session.expire_all()
    return dict(ManifestOutSchema().dump(manifest))


# -- drafts ------------------------------------------------------------------------------------


@bp.post("/manifests")
@token_required
@idempotent
@document(
    "/api/v1/manifests",
    "post",
    "Create a draft manifest for the user's producer organization",
    tags=TAGS,
    request=ManifestDraftSchema,
    response=ManifestOutSchema,
    idempotent=True,
    statuses={201: "Created", 403: "Only staff of an approved producer create manifests"},
)
def create_manifest() -> Response:
    services.ensure_can_create(current_api_user())  # a refused caller: 403 whatever the body
    data = load_json(ManifestDraftSchema())
    manifest = service_call(services.create_draft, db.session, utcnow(), current_api_user(), data)
    return commit(ok(_out(manifest), 201))


@bp.get("/manifests")
@token_required
@document(
    "/api/v1/manifests",
    "get",
    "Manifests visible to the user, newest first: filter by status, planned date "
    "(date_from/date_to), counterpart organization, waste code, number prefix (q); "
    "`meta` gives page, per_page, total, pages",
    tags=TAGS,
    query=ListArgsSchema,
    response=ManifestOutSchema,
    many=True,
)
def list_manifests() -> Any:
    args = load_query(ListArgsSchema())
    filters = services.ManifestFilters(
        status=args["status"],
        date_from=args["date_from"],
        date_to=args["date_to"],
        counterpart_id=args["counterpart_id"],
        waste_code=args["waste_code"],
        q=args["q"],
    )
    per_page = min(
        args["per_page"] or current_app.config["PAGE_SIZE"], current_app.config["PAGE_SIZE_MAX"]
    )
    # Load what the output shows in a few queries instead of several per manifest.
    stmt = services.list_query(current_api_user(), filters).options(
        selectinload(Manifest.lines),
        selectinload(Manifest.producer),
        selectinload(Manifest.carrier),
        selectinload(Manifest.receiver),
        selectinload(Manifest.vehicle),
        selectinload(Manifest.driver).selectinload(Driver.user),
    )
    page = paginate(db.session, stmt, args["page"], per_page)
    return ok(ManifestOutSchema(many=True).dump(page.items), **page.meta())


@bp.get("/manifests/<digits:number_or_id>")
@token_required
@document(
    "/api/v1/manifests/{number_or_id}",
    "get",
    "One manifest, by id or by its 14-digit number",
    tags=TAGS,
    response=ManifestOutSchema,
)
def get_manifest(number_or_id: str) -> Any:
    manifest = services.get_visible(db.session, current_api_user(), number_or_id)
    return ok(ManifestOutSchema().dump(manifest))


def _draft_values(manifest: Manifest) -> dict[str, Any]:
    """The draft as a :class:`ManifestDraftSchema` body, for a PATCH to override.

    Lines built from the chosen containers come first on the manifest (one per waste code,
    see ``services._draft_lines``) and are rebuilt from ``container_ids``, so they are not
    repeated as typed lines. Typed quantities keep the unit they were typed in.
    """
    containers = ledger.manifest_containers(db.session, manifest.id)
    from_containers = len({c.waste_code for c in containers})
    return {
        "carrier_id": manifest.carrier_id,
        "receiver_id": manifest.receiver_id,
        "vehicle_id": manifest.vehicle_id,
        "driver_id": manifest.driver_id,
        "planned_date": manifest.planned_date.isoformat(),
        "emergency_measures": manifest.emergency_measures,
        "container_ids": [c.id for c in containers],
        "lines": [
            {
                "waste_code": ln.waste_code,
                "waste_name": ln.waste_name,
                "physical_form": ln.physical_form.value,
                "hazards": ln.hazard_list,
                "packaging": ln.packaging,
                "container_count": ln.container_count,
                "declared_qty": format(
                    (
                        ln.declared_kg / 1000 if ln.declared_unit == "t" else ln.declared_kg
                    ).normalize(),
                    "f",
                ),
                "declared_unit": ln.declared_unit,
            }
            for ln in manifest.lines[from_containers:]
        ],
    }


@bp.patch("/manifests/<int:manifest_id>")
@token_required
@idempotent
@document(
    ONE,
    "patch",
    "Change a draft. Partial: top-level fields not sent keep their value; `lines` (the "
    "typed lines) and `container_ids`, when sent, replace the whole list. The merged draft "
    "is validated like a new one",
    tags=TAGS,
    request=ManifestDraftSchema,
    response=ManifestOutSchema,
    idempotent=True,
    statuses={403: "Only the producer's office staff edit drafts", **CONFLICT},
)
def patch_manifest(manifest_id: int) -> Response:
    user = current_api_user()
    manifest = services.get_visible(db.session, user, manifest_id)
    # Party and state before the body, so a wrong one is a 403/409 whatever was sent.
    if not access.acts_for_producer(user, manifest):
        raise Forbidden()
    if manifest.status is not ManifestStatus.DRAFT:
        raise Conflict(
            _("Only drafts can be edited; use a correction after submission."),
            status=manifest.status.value,
        )
    data = load_json(ManifestDraftSchema(), base=_draft_values(manifest))
    service_call(services.update_draft, db.session, utcnow(), user, manifest, data)
    return commit(ok(_out(manifest)))


# -- lifecycle verbs ---------------------------------------------------------------------------


#: The hand-offs: loaded in one query, answered from what they stored (no reload).
HANDOFFS = frozenset({"pickup", "deliver", "receive"})


def _act(manifest_id: int, verb: str, schema: type[Schema] | None, run: Verb) -> Response:
    """Visible (404) → this party's action (403) → right state (409) → valid body (422) →
    the verb (which checks party and state again and decides races) → one commit."""
    user = current_api_user()
    handoff = verb in HANDOFFS
    manifest = services.get_visible(db.session, user, manifest_id, handoff=handoff)
    lifecycle.ensure_allowed(verb, manifest, user)
    data = load_json(schema()) if schema is not None else {}
    if verb == "receive" and data.get("confirm") is False:
        return _receipt_preview(manifest, data)
    service_call(run, db.session, utcnow(), manifest, user, data)
    # What passed with a warning (the management plan in warn mode): ``meta.warnings``.
    warned = {"warnings": w} if (w := lifecycle.warnings(db.session, manifest)) else {}
    if handoff:
        # The verb left the manifest as stored (quantities to the gram, the new version):
        # the answer is built from it, and the commit's flush sends the line changes.
        return commit(ok(dict(ManifestOutSchema().dump(manifest)), 200, **warned))
    return commit(ok(_out(manifest), 200, **warned))


def _kg(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.001")))


def _receipt_preview(manifest: Manifest, data: dict[str, Any]) -> Response:
    """A receipt sent with ``confirm: false``: the manifest as it is, each received line
    showing what the receipt would record (received, discrepancy in kg and %, accepted,
    rejected — the web form's confirmation step), with ``meta.preview: true``.

    Records nothing: no event, status, ledger or audit change, and the Idempotency-Key is
    not used up. A receipt that could not be recorded is a 422, as when confirmed.
    """
    rows, errors = lifecycle.validate_receipt(manifest, data)
    if errors:
        raise Invalid(_("The receipt cannot be recorded yet."), errors)
    body = dict(ManifestOutSchema().dump(manifest))
    computed = {row["line"].id: row for row in rows}
    for line in body["lines"]:
        row = computed.get(line["id"])
        if row is None:
            continue
        pct = row["discrepancy_pct"]
        line.update(
            received_kg=_kg(row["received_kg"]),
            discrepancy_kg=_kg(row["discrepancy_kg"]),
            discrepancy_pct=None if pct is None else str(pct),
            decision=row["decision"].value,
            accepted_kg=_kg(row["accepted_kg"]),
            rejected_kg=_kg(row["rejected_kg"]),
            rejection_reason=row["rejection_reason"],
        )
    return nothing_recorded(ok(body, preview=True, recorded=False))


@dataclass(frozen=True)
class Action:
    """One lifecycle verb exposed as ``POST /api/v1/manifests/{id}/<path>``."""

    path: str
    verb: str  # the lifecycle verb (and its party/state guard) it calls
    summary: str
    schema: type[Schema] | None
    run: Verb


ACTIONS = (
    Action(
        "submit",
        "submit",
        "Producer: validate the whole draft (every problem in `fields`), allocate its number "
        "and issue it. No body",
        None,
        lambda s, now, m, u, _data: lifecycle.submit(s, now, m, u),
    ),
    Action(
        "pickup",
        "pickup",
        "Carrier's driver: vehicle, loaded quantity per line (kg, or t with unit), position "
        "or position_note, scanned container codes → in_transit",
        PickupSchema,
        lifecycle.pickup,
    ),
    Action(
        "delivery",
        "deliver",
        "Driver or receiver: arrival at the receiver's gate → delivered (sets the receipt due "
        "date)",
        DeliverySchema,
        lifecycle.deliver,
    ),
    Action(
        "receipt",
        "receive",
        "Receiver: weighbridge quantity and decision per line → received (rejected when every "
        "line is rejected); a line beyond the weight tolerance needs a `note` explaining it "
        "(422 on `note` otherwise). With `confirm: false` a preview: the manifest unchanged "
        "but for each line's computed received, discrepancy (kg and %), accepted and rejected "
        "quantities, `meta.preview: true`; nothing is recorded and the Idempotency-Key stays "
        "unused",
        ReceiptSchema,
        lifecycle.receive,
    ),
    Action(
        "disposal",
        "dispose",
        "Receiver: method (within the licence), quantity and date per line → completed when "
        "every accepted line is disposed of",
        DisposalSchema,
        lifecycle.dispose,
    ),
    Action(
        "cancel",
        "cancel",
        "Producer: cancel before pickup, with a reason",
        CancelSchema,
        lambda s, now, m, u, data: lifecycle.cancel(s, now, m, u, data["reason"]),
    ),
    Action(
        "correction",
        "correct",
        "Producer: a reasoned correction after submission (date, vehicle, driver, emergency "
        "measures, line names/packaging/counts/quantities), recorded as an event all parties "
        "see",
        CorrectionSchema,
        lifecycle.correct,
    ),
)


def _register(action: Action) -> None:
    def view(manifest_id: int) -> Response:
        return _act(manifest_id, action.verb, action.schema, action.run)

    view.__name__ = f"{action.verb}_manifest"
    documented = document(
        f"{ONE}/{action.path}",
        "post",
        action.summary,
        tags=TAGS,
        request=action.schema,
        response=ManifestOutSchema,
        idempotent=True,
        statuses={403: "Not this party's action", **CONFLICT},
    )(view)
    bp.post(f"/manifests/<int:manifest_id>/{action.path}")(token_required(idempotent(documented)))


for _action in ACTIONS:
    _register(_action)


@bp.get("/manifests/<digits:number_or_id>/events")
@token_required
@document(
    "/api/v1/manifests/{number_or_id}/events",
    "get",
    "The timeline: every hand-off and change with who, when, where and quantities",
    tags=TAGS,
    response=EventOutSchema,
    many=True,
)
def manifest_events(number_or_id: str) -> Any:
    manifest = services.get_visible(db.session, current_api_user(), number_or_id)
    return ok(EventOutSchema(many=True).dump(manifest.events))
