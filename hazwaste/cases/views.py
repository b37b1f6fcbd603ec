"""The regulator's case pages: the queue, one case, its forms, and the queue's exports.

Views are thin: parse with a schema, call :mod:`hazwaste.cases.lifecycle`, commit once,
render. A regulator outside the jurisdiction gets 404 (``queries.get_visible``); anyone who
is not regulator staff gets 403 (``regulator_required``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hazwaste import exports as shared_exports
from hazwaste.accounts.models import User
from hazwaste.accounts.permissions import regulator_required
from hazwaste.cases import exports, lifecycle, services
from hazwaste.cases.models import FlagResponse
from hazwaste.cases.schemas import AssignmentSchema, NoteSchema, TransitionSchema
from hazwaste.db import utcnow
from hazwaste.errors import Conflict, Invalid
from hazwaste.extensions import db
from hazwaste.oversight import scope
from hazwaste.pagination import paginate
from hazwaste.reconciliation import queries
from hazwaste.reconciliation.models import CaseFinding, CaseStatus, Flag, FlagStatus, Severity
from hazwaste.reconciliation.rules import REGISTRY
from hazwaste.reconciliation.schemas import FlagFilterSchema
from hazwaste.schemas import field_errors

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _queue_args() -> tuple[dict[str, Any], dict[str, Any]]:
    """The queue's filters from the query string; invalid ones are ignored and reported."""
    try:
        return FlagFilterSchema().load(request.args), {}
    except ValidationError as exc:
        errors = field_errors(exc)
        clean = {k: v for k, v in request.args.items() if k not in errors}
        return FlagFilterSchema().load(clean), errors


def _query_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k != "page" and v != ""}


@bp.get("/")
@regulator_required
def queue() -> Any:
    args, errors = _queue_args()
    now = utcnow()
    filters = queries.filters_from_args(args, now)
    filters.sort = filters.sort or "severity"
    page = paginate(
        db.session,
        queries.list_query(current_user, filters).options(
            selectinload(Flag.producer),
            selectinload(Flag.carrier),
            selectinload(Flag.receiver),
            selectinload(Flag.assignee),
        ),
        args["page"],
        args["per_page"] or current_app.config["PAGE_SIZE"],
        args=_query_args(),
    )
    ids = [f.id for f in page.items]
    responded = set(
        db.session.scalars(select(FlagResponse.flag_id).where(FlagResponse.flag_id.in_(ids)))
    )
    base = {k: v for k, v in _query_args().items() if k != "case_status"}
    return render_template(
        "cases/queue.html",
        page=page,
        args=request.args,
        errors=errors,
        now=now,
        counts=queries.case_counts(db.session, current_user, filters),
        base_args=base,
        export_args=_query_args(),
        responded=responded,
        rules=sorted(REGISTRY),
        severities=[s.value for s in Severity],
        case_statuses=[s.value for s in CaseStatus],
        flag_statuses=[s.value for s in FlagStatus],
        sorts=queries.SORTS,
        inspectors=lifecycle.inspectors(db.session, current_user),
        enterprises=scope.enterprises(db.session, current_user),
    ), (422 if errors else 200)


@bp.get("/export.csv")
@regulator_required
def export_csv() -> Any:
    args, _errors = _queue_args()
    filters = queries.filters_from_args(args, utcnow())
    filters.sort = filters.sort or "severity"
    user_id = current_user.id  # plain values only: the rows are read after the request

    def make_rows(session: Session) -> Iterator[list[Any]]:
        user = session.get(User, user_id)
        return exports.rows(session, user, filters) if user else iter(())

    return shared_exports.csv_download(exports.header(), make_rows, "cases.csv")


@bp.get("/export.xlsx")
@regulator_required
def export_xlsx() -> Any:
    args, _errors = _queue_args()
    filters = queries.filters_from_args(args, utcnow())
    filters.sort = filters.sort or "severity"
    data = exports.xlsx_bytes(exports.rows(db.session, current_user, filters))
    return shared_exports.download(data, shared_exports.XLSX_MIMETYPE, "cases.xlsx")


def _render_case(
    flag: Flag, form: str = "", values: Any = None, errors: Any = None, status: int = 422
) -> Any:
    session = db.session
    user = current_user
    evidence = queries.evidence(flag)
    return render_template(
        "cases/detail.html",
        flag=flag,
        evidence=evidence,
        evidence_rows=services.evidence_rows(evidence),
        trip=services.manifest_view(session, flag.manifest_id),
        history=lifecycle.history(session, flag),
        responses=services.responses(session, flag),
        inspectors=lifecycle.inspectors(session, user),
        may={verb: lifecycle.allowed(session, user, flag, verb) for verb in lifecycle.TRANSITIONS}
        | {"assign": lifecycle.can_assign(session, user, flag)},
        findings=[f.value for f in CaseFinding],
        form=form,
        values=values or {},
        errors=errors or {},
    ), (status if errors else 200)


@bp.get("/<int:flag_id>")
@regulator_required
def detail(flag_id: int) -> Any:
    return _render_case(queries.get_visible(db.session, current_user, flag_id))


def _post(flag_id: int, form: str, schema: Any, act: Any, done: str) -> Any:
    """Parse ``schema``, call ``act(flag, data)``; re-render with 422 on bad input."""
    flag = queries.get_visible(db.session, current_user, flag_id)
    try:
        data = schema.load(request.form)
        act(flag, data)
    except ValidationError as exc:
        return _render_case(flag, form, request.form, field_errors(exc))
    except Invalid as exc:
        db.session.rollback()
        flag = queries.get_visible(db.session, current_user, flag_id)
        return _render_case(flag, form, request.form, exc.fields or {"_schema": [exc.message]})
    except Conflict as exc:
        # Someone moved the case first: show it as it is now, with what happened.
        db.session.rollback()
        flag = queries.get_visible(db.session, current_user, flag_id)
        return _render_case(flag, "", {}, {"_schema": [exc.message]}, status=409)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("cases.detail", flag_id=flag_id))


@bp.post("/<int:flag_id>/transition")
@regulator_required
def transition(flag_id: int) -> Any:
    now = utcnow()
    form = request.form.get("action", "")
    return _post(
        flag_id,
        form if form in lifecycle.TRANSITIONS else "start",
        TransitionSchema(),
        lambda flag, data: lifecycle.transition(db.session, now, current_user, flag, data),
        _("The case was updated."),
    )


@bp.post("/<int:flag_id>/assignment")
@regulator_required
def assignment(flag_id: int) -> Any:
    now = utcnow()
    return _post(
        flag_id,
        "assign",
        AssignmentSchema(),
        lambda flag, data: lifecycle.assign(
            db.session, now, current_user, flag, data["assignee_id"]
        ),
        _("The case was assigned."),
    )


@bp.post("/<int:flag_id>/notes")
@regulator_required
def note(flag_id: int) -> Any:
    now = utcnow()
    return _post(
        flag_id,
        "note",
        NoteSchema(),
        lambda flag, data: lifecycle.add_note(db.session, now, current_user, flag, data["body"]),
        _("The note was added."),
    )
