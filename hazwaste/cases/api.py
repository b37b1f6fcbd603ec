"""Case workflow on the JSON API (routes register on :data:`hazwaste.api.core.bp`).

- ``POST /api/v1/flags/{id}/transitions`` {"action", "note", "finding", "referral_note"}
- ``POST /api/v1/flags/{id}/assignment`` {"assignee_id"}
- ``GET|POST /api/v1/flags/{id}/notes`` (case history / add a note)
- ``GET|POST /api/v1/flags/{id}/responses`` (the enterprise's explanations)

A flag outside the user's view is 404; an enterprise on a regulator action (or a regulator
answering as an enterprise) is 403; a lost race or a final case is 409 with the current
status; bad input is 422 with field messages. POSTs honour ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from hazwaste.api.core import (
    bp,
    commit,
    current_api_user,
    idempotent,
    load_json,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import document
from hazwaste.cases import lifecycle, services
from hazwaste.cases.schemas import (
    AssignmentSchema,
    NoteOutSchema,
    NoteSchema,
    ResponseOutSchema,
    ResponseSchema,
    TransitionSchema,
)
from hazwaste.db import utcnow
from hazwaste.errors import Forbidden
from hazwaste.extensions import db
from hazwaste.reconciliation import queries
from hazwaste.reconciliation.schemas import FlagOutSchema

TAGS = ["cases"]
REGULATOR_STATUSES = {
    403: "Not regulator staff",
    404: "No such flag in the user's jurisdiction",
    409: "The case is not in a state that allows this (current status in the message)",
    422: "Invalid data (field messages)",
}


def _flag(flag_id: int) -> Any:
    return queries.get_visible(db.session, current_api_user(), flag_id)


@bp.post("/flags/<int:flag_id>/transitions")
@token_required
@idempotent
@document(
    "/api/v1/flags/{flag_id}/transitions",
    "post",
    "Move a case: start (new→investigating), close (finding + note), refer (referral_note), "
    "reopen (closed→investigating, note)",
    tags=TAGS,
    request=TransitionSchema,
    response=FlagOutSchema,
    idempotent=True,
    statuses=REGULATOR_STATUSES,
)
def flag_transition(flag_id: int) -> Any:
    flag = _flag(flag_id)
    lifecycle.ensure_regulator(db.session, current_api_user(), flag)  # 403 before the body
    data = load_json(TransitionSchema())
    service_call(lifecycle.transition, db.session, utcnow(), current_api_user(), flag, data)
    return commit(ok(FlagOutSchema().dump(flag)))


@bp.post("/flags/<int:flag_id>/assignment")
@token_required
@idempotent
@document(
    "/api/v1/flags/{flag_id}/assignment",
    "post",
    "Assign the case to an inspector of the user's own body (null unassigns)",
    tags=TAGS,
    request=AssignmentSchema,
    response=FlagOutSchema,
    idempotent=True,
    statuses=REGULATOR_STATUSES,
)
def flag_assignment(flag_id: int) -> Any:
    flag = _flag(flag_id)
    lifecycle.ensure_regulator(db.session, current_api_user(), flag)  # 403 before the body
    data = load_json(AssignmentSchema())
    service_call(
        lifecycle.assign, db.session, utcnow(), current_api_user(), flag, data["assignee_id"]
    )
    return commit(ok(FlagOutSchema().dump(flag)))


@bp.get("/flags/<int:flag_id>/notes")
@token_required
@document(
    "/api/v1/flags/{flag_id}/notes",
    "get",
    "The case history: notes, transitions and assignments, oldest first (regulators)",
    tags=TAGS,
    response=NoteOutSchema,
    many=True,
    statuses={403: "Not regulator staff", 404: "No such flag in the user's jurisdiction"},
)
def flag_notes(flag_id: int) -> Any:
    flag = _flag(flag_id)
    user = current_api_user()
    if not lifecycle.can_note(db.session, user, flag):
        raise Forbidden()
    return ok(NoteOutSchema(many=True).dump(lifecycle.history(db.session, flag)))


@bp.post("/flags/<int:flag_id>/notes")
@token_required
@idempotent
@document(
    "/api/v1/flags/{flag_id}/notes",
    "post",
    "Add a note to the case",
    tags=TAGS,
    request=NoteSchema,
    response=NoteOutSchema,
    idempotent=True,
    statuses={201: "Created", **REGULATOR_STATUSES},
)
def add_flag_note(flag_id: int) -> Any:
    flag = _flag(flag_id)
    lifecycle.ensure_regulator(db.session, current_api_user(), flag)  # 403 before the body
    data = load_json(NoteSchema())
    note = service_call(
        lifecycle.add_note, db.session, utcnow(), current_api_user(), flag, data["body"]
    )
    return commit(ok(NoteOutSchema().dump(note), 201))


@bp.get("/flags/<int:flag_id>/responses")
@token_required
@document(
    "/api/v1/flags/{flag_id}/responses",
    "get",
    "The enterprises' explanations of the flag (anyone who sees the flag)",
    tags=TAGS,
    response=ResponseOutSchema,
    many=True,
    statuses={404: "No such flag visible to the user"},
)
def flag_responses(flag_id: int) -> Any:
    flag = _flag(flag_id)
    return ok(ResponseOutSchema(many=True).dump(services.responses(db.session, flag)))


@bp.post("/flags/<int:flag_id>/responses")
@token_required
@idempotent
@document(
    "/api/v1/flags/{flag_id}/responses",
    "post",
    "The enterprise concerned answers the flag: explanation (body) and attachments' "
    "descriptions (one per line)",
    tags=TAGS,
    request=ResponseSchema,
    response=ResponseOutSchema,
    idempotent=True,
    statuses={
        201: "Created",
        403: "Not a member of the producer, carrier or receiver of the flag",
        404: "No such flag visible to the user",
        422: "Invalid data (field messages)",
    },
)
def add_flag_response(flag_id: int) -> Any:
    flag = _flag(flag_id)
    if not services.can_respond(current_api_user(), flag):  # 403 before the body
        raise Forbidden(_("Only the enterprise concerned can answer this flag."))
    data = load_json(ResponseSchema())
    response = service_call(services.respond, db.session, utcnow(), current_api_user(), flag, data)
    return commit(ok(ResponseOutSchema().dump(response), 201))
