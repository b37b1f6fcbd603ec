"""API plumbing: the blueprint, bearer authentication, request parsing, idempotency."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hazwaste.accounts import services as account_services
from hazwaste.accounts.models import User
from hazwaste.api.models import IdempotencyRecord
from hazwaste.db import utcnow
from hazwaste.errors import Invalid, ServiceError, api_error
from hazwaste.extensions import db
from hazwaste.schemas import field_errors

bp = Blueprint("api", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])
IDEMPOTENCY_KEY_MAX = 200


def current_api_user() -> User:
    user: User = g.api_user
    return user


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_required(view: F) -> F:
    """Authenticate with ``Authorization: Bearer <token>``; 401 JSON otherwise."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = _bearer_token()
        user = account_services.user_for_token(db.session, utcnow(), token) if token else None
        if user is None:
            response, status = api_error(401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="hazwaste"'
            return response, status
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def load_json(schema: Schema, partial: bool = False) -> Any:
    """Parse the JSON body with ``schema``; a malformed body or bad field → 422 with fields."""
    payload = request.get_json(silent=True)
    if payload is None:
        msg = _("The request body must be a JSON object.")
        raise Invalid(msg, {"_schema": [msg]})
    try:
        return schema.load(payload, partial=partial)
    except ValidationError as exc:
        raise Invalid(_("Some fields are not valid."), field_errors(exc)) from exc


def load_query(schema: Schema) -> Any:
    try:
        return schema.load(request.args)
    except ValidationError as exc:
        raise Invalid(_("Some query parameters are not valid."), field_errors(exc)) from exc


def _request_fingerprint() -> str:
    body = request.get_data() or b""
    return hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + body
    ).hexdigest()


def idempotent(view: F) -> F:
    """Honour ``Idempotency-Key``: the first result for a (user, key) is stored and replayed.

    A retry with the same key and the same request returns the stored status and body; the
    same key with a different request is a 422. Failed requests (4xx/5xx) are not stored,
    so a corrected retry can succeed. Without the header the view runs normally.
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > IDEMPOTENCY_KEY_MAX:
            msg = _("At most %(n)s characters.", n=IDEMPOTENCY_KEY_MAX)
            raise Invalid(msg, {"Idempotency-Key": [msg]})
        user = current_api_user()
        fingerprint = _request_fingerprint()
        stored = db.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key
            )
        )
        if stored is not None:
            return _replay(stored, fingerprint)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code < 400:
            db.session.add(
                IdempotencyRecord(
                    user_id=user.id,
                    key=key,
                    request_hash=fingerprint,
                    status=response.status_code,
                    body=response.get_data(as_text=True),
                    created_at=utcnow(),
                )
            )
            try:
                db.session.commit()
            except IntegrityError:
                # A concurrent retry with the same key stored its result first: replay that.
                db.session.rollback()
                stored = db.session.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key
                    )
                )
                if stored is not None:
                    return _replay(stored, fingerprint)
        return response

    return wrapped  # type: ignore[return-value]


def _replay(stored: IdempotencyRecord, fingerprint: str) -> Response:
    if stored.request_hash != fingerprint:
        msg = _("This Idempotency-Key was already used for a different request.")
        raise Invalid(msg, {"Idempotency-Key": [msg]})
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def ok(data: Any, status: int = 200, **meta: Any) -> tuple[Response, int]:
    body: dict[str, Any] = {"data": data}
    if meta:
        body["meta"] = meta
    return jsonify(body), status


def service_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a service; roll back on any rule violation so nothing is half-saved."""
    try:
        return fn(*args, **kwargs)
    except ServiceError:
        db.session.rollback()
        raise
