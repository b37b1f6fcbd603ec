"""Domain errors raised by services, and the HTTP error handlers for pages and the API.

Services raise :class:`ServiceError` subclasses; views and the API turn them into responses.
API responses are always ``{"error": {"code", "message", "fields"}}``; pages render
``errors/error.html``. No handler ever shows a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, StatementError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import BaseConverter, IntegerConverter
from werkzeug.routing import ValidationError as RouteValidationError

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of every rule violation a service reports to its caller."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str = "", fields: dict[str, Any] | None = None, **extra: Any):
        super().__init__(message)
        self.message = str(message)
        self.fields = fields or {}
        self.extra = extra


class Invalid(ServiceError):
    """Input breaks a rule; ``fields`` maps each field to its messages."""

    status = 422
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The object is not in a state that allows the action (e.g. a lifecycle race lost)."""

    status = 409
    code = "conflict"


TITLES = {
    400: lazy_gettext("Bad request"),
    401: lazy_gettext("Please log in"),
    403: lazy_gettext("Access denied"),
    404: lazy_gettext("Not found"),
    405: lazy_gettext("Method not allowed"),
    409: lazy_gettext("Conflict"),
    413: lazy_gettext("Upload too large"),
    422: lazy_gettext("Invalid data"),
    429: lazy_gettext("Too many attempts"),
    500: lazy_gettext("Something went wrong"),
}

MESSAGES = {
    400: lazy_gettext("The request could not be understood."),
    401: lazy_gettext("You need to log in to see this."),
    403: lazy_gettext("You are not allowed to see or do this."),
    404: lazy_gettext("There is nothing at this address."),
    405: lazy_gettext("This address does not accept that kind of request."),
    409: lazy_gettext("The object changed in the meantime; reload and try again."),
    413: lazy_gettext("The uploaded file is too large."),
    422: lazy_gettext("Some fields are not valid."),
    429: lazy_gettext("Too many attempts. Please wait a few minutes and try again."),
    500: lazy_gettext("An unexpected error occurred. It has been logged; please try again."),
}

API_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def api_error(
    status: int,
    /,  # positional-only: a Conflict's extra ``status=`` (the object's state) goes in the body
    message: str | None = None,
    fields: dict[str, Any] | None = None,
    code: str | None = None,
    **extra: Any,
) -> tuple[Response, int]:
    body: dict[str, Any] = {
        "code": code or API_CODES.get(status, "error"),
        "message": message or str(MESSAGES.get(status, "")),
        "fields": fields or {},
    }
    body.update(extra)
    return jsonify({"error": body}), status


def error_page(status: int, message: str | None = None) -> tuple[str, int]:
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=TITLES.get(status, TITLES[500]),
            message=message or MESSAGES.get(status, MESSAGES[500]),
        ),
        status,
    )


def _respond(status: int, message: str | None = None, **kw: Any) -> Any:
    if wants_json():
        return api_error(status, message, **kw)
    return error_page(status, message)


#: Largest value of the databases' INTEGER (primary keys).
INT_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:…>`` limited to the database's integer range.

    Every primary key is a 32-bit ``INTEGER``; PostgreSQL refuses a larger value in a query
    ("integer out of range"), which would turn ``/manifests/99999999999`` into a 500. Such a
    URL matches no route instead, so it is an ordinary 404.

    Signed numbers are matched too and then refused (below 0): an unsigned pattern let
    ``PATCH /api/v1/manifests/-1`` fall through to the ``GET …/<number_or_id>`` route and
    answer 405, as if the address existed for other methods. A refused value raises
    ``NotFound`` rather than Werkzeug's ``ValidationError``: the latter answers 405 when
    another method shares the path (``POST /api/v1/flags/-1/notes`` beside its ``GET``).
    Werkzeug converts only the rule that already matched path and method, so no other
    route is hidden by this.
    """

    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(
            map, fixed_digits, 0 if min is None else min, INT_MAX if max is None else max, True
        )
        self.regex = r"-?[0-9]+"  # ASCII digits only ("\d" would also match "²")

    def to_python(self, value: str) -> Any:
        try:
            return super().to_python(value)
        except RouteValidationError:
            raise HTTPNotFound() from None


class DigitsConverter(BaseConverter):
    """``<digits:…>``: a manifest number or a row id, ASCII digits, kept as text.

    A plain ``<…>`` string part matches anything, so ``PATCH /api/v1/manifests/abc`` matched
    ``GET …/<number_or_id>`` and answered 405 as if the address existed for other methods;
    with this converter such a path matches no route and is a 404.
    """

    # The same pattern as ``<int:…>`` (any length, signed): a narrower one would leave paths
    # that only the other method's rule matches (405 again); the lookup answers 404 for
    # what it cannot find, a negative number included.
    regex = r"-?[0-9]+"


def _too_large_message() -> str:
    from flask_babel import format_decimal

    from hazwaste.limits import body_limit

    limit = body_limit()
    if limit is None or request.content_length is None:  # a chunked body cut off
        return str(MESSAGES[413])
    if request.content_length <= limit:  # Werkzeug's form limits: parts, size of a field
        return _("The form has too many fields, or a field is too long.")
    return _("The request is too large: at most %(mb)s MB.", mb=format_decimal(limit / 2**20))


def init_app(app: Flask) -> None:
    # Before the domains register their routes, so every <int:…> rule uses it.
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["digits"] = DigitsConverter

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Any:
        if wants_json():
            return api_error(exc.status, exc.message, exc.fields, exc.code, **exc.extra)
        return error_page(exc.status, exc.message)

    @app.errorhandler(ValidationError)
    def validation_error(exc: ValidationError) -> Any:
        from hazwaste.schemas import field_errors

        return _respond(422, fields=field_errors(exc)) if wants_json() else error_page(422)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _respond(
            400, _("The form expired or was sent from another site. Please reload and try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if status == 429:
            return _respond(429)
        if status == 413:
            return _respond(413, _too_large_message())
        return _respond(status)

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def out_of_range(exc: Exception) -> Any:
        # Safety net behind the schemas' Id/PageNumber/quantity checks: a number the
        # database cannot hold (SQLite: beyond 64 bits; PostgreSQL: "integer out of range",
        # "numeric field overflow") is the client's mistake, never a 500. A lookup
        # (GET/HEAD) found nothing; a change could not be recorded as sent.
        from hazwaste.extensions import db

        log.warning("out-of-range value on %s %s: %s", request.method, request.path, exc)
        db.session.rollback()
        if request.method in ("GET", "HEAD"):
            return _respond(404)
        return _respond(422, _("A number is out of range."))

    @app.errorhandler(StatementError)
    def statement_error(exc: StatementError) -> Any:
        # SQLAlchemy wraps errors raised while binding parameters (an OverflowError from
        # the driver among them); other statement errors stay 500s.
        if isinstance(exc.orig, OverflowError | DataError):
            return out_of_range(exc)
        return unexpected(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        from hazwaste.extensions import db

        db.session.rollback()
        return _respond(500)
