"""API plumbing: the blueprint, bearer authentication, request parsing, idempotency."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hazwaste.accounts import services as account_services
from hazwaste.accounts import sessions as login_sessions
from hazwaste.accounts.models import User
from hazwaste.api.models import IdempotencyRecord
from hazwaste.api.scopes import required_scope
from hazwaste.db import utcnow
from hazwaste.errors import Conflict, Invalid, ServiceError, api_error
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


def bearer_user() -> User | None:
    """The user of a valid bearer token, or None — for public endpoints that show more to
    some callers (never a 401; the token's last use is not recorded)."""
    token = _bearer_token()
    row = account_services.token_record(db.session, utcnow(), token) if token else None
    return row.user if row is not None else None


def token_required(view: F) -> F:
    """Authenticate with ``Authorization: Bearer <token>``; 401 JSON otherwise."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = _bearer_token()
        now = utcnow()
        row = account_services.token_record(db.session, now, token) if token else None
        if row is None:
            response, status = api_error(401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="hazwaste"'
            return response, status
        # Fail closed: an endpoint without a declared scope is refused to every token.
        scope = required_scope(request.endpoint)
        if scope is None or scope not in row.scopes.split():
            needed = scope or "?"
            response, status = api_error(
                403,
                _("This token lacks the scope %(scope)s.", scope=needed),
                code="insufficient_scope",
                scope=needed,
            )
            response.headers["WWW-Authenticate"] = (
                f'Bearer error="insufficient_scope", scope="{needed}"'
            )
            return response, status
        g.api_user = row.user
        g.api_token_id = row.id  # DELETE /auth/token revokes the token of the request
        g.api_token_scopes = frozenset(row.scopes.split())  # a new token never exceeds them
        interval = current_app.config["SESSION_TOUCH_INTERVAL"]
        if row.last_used_at is None or row.last_used_at + interval <= now:
            # At most once per interval, before the view has done anything: committing here
            # commits nothing else, and a busy token's row is not written by every request.
            login_sessions.touch_token(db.session, now, row.id, interval)
            db.session.commit()
        return view(*args, **kwargs)

    wrapped.api_auth = True  # type: ignore[attr-defined]  # read by the OpenAPI document
    return wrapped  # type: ignore[return-value]


def load_json(schema: Schema, partial: bool = False, base: dict[str, Any] | None = None) -> Any:
    """Parse the JSON body with ``schema``; a malformed body or bad field → 422 with fields.

    ``base`` holds current values the body's keys override (a PATCH that changes only the
    fields it names); the body must then be a JSON object.
    """
    payload = request.get_json(silent=True)
    if payload is None or (base is not None and not isinstance(payload, dict)):
        msg = _("The request body must be a JSON object.")
        raise Invalid(msg, {"_schema": [msg]})
    if base is not None:
        payload = {**base, **payload}
    try:
        return schema.load(payload, partial=partial)
    except ValidationError as exc:
        raise Invalid(_("Some fields are not valid."), field_errors(exc)) from exc


def load_query(schema: Schema) -> Any:
    try:
        return schema.load(request.args)
    except ValidationError as exc:
        raise Invalid(_("Some query parameters are not valid."), field_errors(exc)) from exc


# -- idempotency -------------------------------------------------------------------------------

#: ``IdempotencyRecord.status`` of a key whose request is still running.
PENDING = 0
#: How long a retry waits for a first request with the same key that is still running.
IDEMPOTENCY_WAIT_S = 5.0


def _request_fingerprint() -> str:
    """Method, path and body; a JSON body in canonical form (key order, spacing don't count)."""
    body = request.get_data() or b""
    parsed = request.get_json(silent=True)
    if parsed is not None:
        body = json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + body
    ).hexdigest()


def _stored(user_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )


def _finished(user_id: int, key: str) -> IdempotencyRecord | None:
    """The stored result for the key, waiting a little while a first request still runs."""
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_S
    while True:
        stored = _stored(user_id, key)
        if stored is None or stored.status != PENDING:
            return stored
        # End the transaction before waiting: on SQLite it holds the write lock the first
        # request needs to finish.
        db.session.rollback()
        if time.monotonic() > deadline:
            raise Conflict(
                _("A request with this Idempotency-Key is still running; retry in a moment.")
            )
        time.sleep(0.1)


def _reserve(user_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key as pending in the request's transaction: its row id, or None when the
    key already exists (one statement, ``INSERT … ON CONFLICT DO NOTHING RETURNING id``).

    On PostgreSQL a concurrent request with the same key waits here on the unique index until
    the first one commits (then this one finds nothing inserted and replays its result) or
    rolls back (then it inserts and runs). On SQLite the single writer lock orders them.
    """
    bind = db.session.get_bind()
    builder = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    statement = (
        builder(IdempotencyRecord)
        .values(
            user_id=user_id,
            key=key,
            request_hash=fingerprint,
            status=PENDING,
            body="",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[IdempotencyRecord.user_id, IdempotencyRecord.key])
        .returning(IdempotencyRecord.id)
    )
    record_id = db.session.execute(statement).scalar()
    return None if record_id is None else int(record_id)


def _fill(record_id: int, response: Response) -> None:
    db.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(status=response.status_code, body=response.get_data(as_text=True))
        .execution_options(synchronize_session=False)
    )


def _discard(record_id: int) -> None:
    """Forget the pending key of a failed request, so a corrected retry can run."""
    db.session.rollback()  # drops the reservation with everything else the request did
    # A view that commits by itself may have committed the reservation before failing.
    db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == record_id, IdempotencyRecord.status == PENDING
        )
    )
    db.session.commit()


def idempotent(view: F) -> F:
    """Honour ``Idempotency-Key``: the first successful result for a (user, key) is replayed.

    A retry with the same key and the same request (method, path, JSON body) gets the stored
    status and body with ``Idempotent-Replayed: true`` and changes nothing; the same key with
    a different request is a 422. Failed requests (4xx/5xx) are not stored, so a corrected
    retry with the same key can succeed. Without the header the view runs normally.

    The key is reserved (a pending row) before the view runs. Views that end with
    :func:`commit` store their result in the same transaction as their change, so no retry
    can ever see the change without its result (and answer 409 instead of replaying); a
    concurrent retry waits for the first request and replays it. Views that commit by
    themselves get their result stored in a second commit right after.

    A first request costs two statements here: the reservation and the stored result.
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > IDEMPOTENCY_KEY_MAX:
            msg = _("At most %(n)s characters.", n=IDEMPOTENCY_KEY_MAX)
            raise Invalid(msg, {"Idempotency-Key": [msg]})
        user_id = current_api_user().id
        fingerprint = _request_fingerprint()
        record_id = _reserve(user_id, key, fingerprint)
        while record_id is None:
            # The key exists: its result, once the first request finished (end the
            # transaction first: on SQLite the no-op insert holds the writer lock).
            db.session.rollback()
            stored = _finished(user_id, key)
            if stored is not None:
                return _replay(stored, fingerprint)
            # The first request failed and released the key meanwhile: run this one.
            record_id = _reserve(user_id, key, fingerprint)
        g.idempotency_record = record_id
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            g.pop("idempotency_record", None)
            _discard(record_id)
            raise
        if g.pop("idempotency_record", None) is None:
            return response  # the view stored its result with commit()
        if response.status_code >= 400:
            _discard(record_id)
            return response
        _fill(record_id, response)
        db.session.commit()
        return response

    wrapped.api_idempotent = True  # type: ignore[attr-defined]  # read by the OpenAPI document
    return wrapped  # type: ignore[return-value]


def commit(response: Any) -> Response:
    """Commit the request's work once and return ``response`` (any Flask view return value).

    Under an ``Idempotency-Key`` a successful response is stored in the same transaction as
    the change it reports; an error response un-reserves the key.
    """
    result = current_app.make_response(response)
    record_id = g.pop("idempotency_record", None)
    if record_id is not None:
        if result.status_code < 400:
            _fill(record_id, result)
        else:
            db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    db.session.commit()
    return result


def nothing_recorded(response: Any) -> Response:
    """Return ``response`` (e.g. a preview) having recorded nothing: the request's work is
    rolled back and its ``Idempotency-Key`` reservation released, so a later request with
    the same key (the confirmed one) runs instead of replaying this answer."""
    result = current_app.make_response(response)
    record_id = g.pop("idempotency_record", None)
    if record_id is not None:
        _discard(record_id)
    else:
        db.session.rollback()
    return result


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
