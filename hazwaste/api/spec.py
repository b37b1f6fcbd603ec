"""OpenAPI 3 document generated from the marshmallow schemas the endpoints really use."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app
from marshmallow import Schema, fields
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from hazwaste.api.core import IDEMPOTENCY_KEY_MAX
from hazwaste.api.scopes import required_scope
from hazwaste.errors import DigitsConverter

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    tags: list[str]
    request: type[Schema] | None = None
    response: type[Schema] | None = None
    many: bool = False
    query: type[Schema] | None = None
    auth: bool = True
    idempotent: bool = False
    statuses: dict[int, str] = field(default_factory=dict)
    content_type: str = "application/json"
    #: A body that is not a JSON object (uploads): media type → OpenAPI schema.
    request_content: dict[str, Any] | None = None


OPERATIONS: list[Operation] = []


def document(
    path: str,
    method: str,
    summary: str,
    *,
    tags: list[str],
    request: type[Schema] | None = None,
    response: type[Schema] | None = None,
    many: bool = False,
    query: type[Schema] | None = None,
    auth: bool = True,
    idempotent: bool = False,
    statuses: dict[int, str] | None = None,
    content_type: str = "application/json",
    request_content: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """Record an endpoint for the OpenAPI document (``path`` in OpenAPI ``{param}`` form).

    ``statuses`` adds or rewords answers: 2xx keys are the success statuses (default 200, all
    with the ``response`` body), others are errors. The usual errors need not be listed:
    :func:`build_spec` derives them from the operation (see :func:`error_statuses`).
    """

    def decorator(view: F) -> F:
        OPERATIONS.append(
            Operation(
                path,
                method.lower(),
                summary,
                tags,
                request,
                response,
                many,
                query,
                auth,
                idempotent,
                statuses or {},
                content_type,
                request_content,
            )
        )
        return view

    return decorator


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "message", "fields"],
        }
    },
}

#: Decimal quantities travel as strings (exact; JSON numbers are binary floats).
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DECIMAL_STRING: dict[str, Any] = {
    "type": "string",
    "format": "decimal",
    "pattern": DECIMAL_PATTERN,
}

ERROR_TEXTS = {
    401: "Missing, invalid or expired bearer token",
    403: "Not allowed for this user",
    404: "No such object (or not visible to this user)",
    409: "The object is not in a state that allows this, or a request with the same "
    "Idempotency-Key is still running",
    413: "Request body too large",
    422: "Invalid data; `fields` maps each field (or query parameter, or header) to its messages",
}


def decimal_property(self: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> Any:
    """apispec attribute function: decimals are documented as they travel.

    Answers carry quantities as decimal strings (``fields.Decimal(as_string=True)``, and the
    JSON encoder writes any other ``Decimal`` as a string too): ``{"type": "string", "format":
    "decimal"}``, as are decimal query parameters. Request quantities
    (:class:`~hazwaste.schemas.Weight`, :class:`~hazwaste.schemas.Amount`) accept such a
    string or a JSON number.
    """
    from hazwaste.schemas import Amount, Weight

    if isinstance(field, Weight | Amount):
        ret.pop("type", None)
        ret.pop("format", None)
        string = dict(DECIMAL_STRING)
        if ret.pop("nullable", False):
            string["nullable"] = True  # null matches this branch only, so oneOf holds
        return {"oneOf": [string, {"type": "number"}]}
    if isinstance(field, fields.Decimal):
        ret.pop("format", None)
        return dict(DECIMAL_STRING)
    return {}


def envelope(data: Any) -> dict[str, Any]:
    """Every JSON success body is ``{"data": …}``, lists add ``"meta"`` (paging, counts)."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": data, "meta": {"type": "object", "additionalProperties": True}},
    }


def _shape(path: str) -> str:
    """``/a/{x}/b`` and ``/a/<int:x>/b`` → ``/a/{}/b``: a route and its document path agree."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def api_rules() -> dict[tuple[str, str], Rule]:
    """The application's ``/api/v1`` routes by (path shape, lower-case method)."""
    rules: dict[tuple[str, str], Rule] = {}
    for rule in current_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                rules[(_shape(rule.rule), method.lower())] = rule
    return rules


def path_parameters(op: Operation, rule: Rule | None) -> list[dict[str, Any]]:
    """Path parameters named as in the document, typed by the route's converters.

    ``<int:…>`` ids are integers from 1 to the database's integer range (0 is accepted by the
    route and answers 404); other parts are non-empty strings.
    """
    names = re.findall(r"\{([^}]+)\}", op.path)
    converters = []
    if rule is not None:
        converters = [
            rule._converters[name] for name in re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule.rule)
        ]
    params = []
    for index, name in enumerate(names):
        converter = converters[index] if index < len(converters) else None
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if isinstance(converter, DigitsConverter):
            schema = {"type": "string", "pattern": "^[0-9]+$"}  # what can be found
        elif isinstance(converter, NumberConverter):
            schema = {"type": "integer", "minimum": 1}
            if converter.max is not None:
                schema["maximum"] = converter.max
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
    return params


def view_marks(rule: Rule | None) -> tuple[bool, bool]:
    """(needs a bearer token, honours Idempotency-Key) as the route's view really does."""
    if rule is None:
        return False, False
    view = current_app.view_functions[rule.endpoint]
    return bool(getattr(view, "api_auth", False)), bool(getattr(view, "api_idempotent", False))


def error_statuses(op: Operation, has_path_ids: bool) -> dict[int, str]:
    """The error answers an operation can give, from what it takes.

    401 and 403 with a bearer token; 404 for an object named in the path or the body; 409 for
    an action on an object and under an Idempotency-Key (a retry racing the first request);
    413 for any POST, PUT or PATCH (bodies are size-limited); 422 for a body, query
    parameters or an Idempotency-Key.
    Rate limits (429) and anything else are listed by the operation's ``statuses``.
    """
    has_body = op.request is not None or op.request_content is not None
    codes = set()
    if op.auth:
        codes |= {401, 403}
    if has_path_ids or (op.auth and has_body):
        codes.add(404)
    if op.idempotent or (has_path_ids and op.method == "post"):
        codes.add(409)
    if op.method in ("post", "put", "patch"):
        codes.add(413)
    if has_body or op.query is not None or op.idempotent:
        codes.add(422)
    statuses = {code: ERROR_TEXTS[code] for code in codes}
    statuses.update({k: v for k, v in op.statuses.items() if k >= 300})
    return statuses


def build_spec() -> dict[str, Any]:
    """The OpenAPI 3 document of every :func:`document`-ed operation (needs an app context).

    Authentication, the Idempotency-Key header and path parameter types are read from the
    route and its view (``token_required``/``idempotent`` mark them), so the document cannot
    drift from the code; error statuses follow :func:`error_statuses`.
    """
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="hazwaste API",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": "Hazardous-waste electronic transfer manifests (电子转移联单). "
            "Quantities are decimal strings in kilograms (`format: decimal`); requests "
            'also accept JSON numbers. Every error is `{"error": {code, message, fields}}`.'
        },
    )
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(decimal_property)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", ERROR_SCHEMA)
    rules = api_rules()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        rule = rules.get((_shape(op.path), op.method))
        if rule is not None:
            auth, idempotent = view_marks(rule)
            op = replace(op, auth=auth, idempotent=idempotent)
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            schema: Any = op.response
            data = {"type": "array", "items": schema} if op.many else schema
            body = data if op.content_type != "application/json" else envelope(data)
            ok["content"] = {op.content_type: {"schema": body}}
        elif op.content_type != "application/json":
            ok["content"] = {op.content_type: {"schema": {"type": "string", "format": "binary"}}}
        successes = {k: v for k, v in op.statuses.items() if 200 <= k < 300} or {200: "OK"}
        for status, text in sorted(successes.items()):
            responses[str(status)] = {**ok, "description": text}
        params = path_parameters(op, rule)
        for status, text in sorted(error_statuses(op, bool(params)).items()):
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        operation: dict[str, Any] = {"summary": op.summary, "tags": op.tags, "responses": responses}
        if op.auth:
            operation["security"] = [{"bearer": []}]
            # The scope a token needs (OpenAPI 3.0 lists scopes only for oauth2 schemes).
            operation["x-required-scope"] = required_scope(rule.endpoint if rule else None)
        parameters: list[dict[str, Any]] = []
        if op.query is not None:
            parameters.append({"in": "query", "schema": op.query})
        if op.idempotent:
            parameters.append(
                {
                    "in": "header",
                    "name": "Idempotency-Key",
                    "required": False,
                    "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
                    "description": "A retry with the same key and request returns the first "
                    f"successful result (header `Idempotent-Replayed: true`); at most "
                    f"{IDEMPOTENCY_KEY_MAX} characters (more is a 422); the same key with a "
                    "different request is a 422.",
                }
            )
        parameters += params
        if parameters:
            operation["parameters"] = parameters
        if op.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": op.request}},
            }
        elif op.request_content is not None:
            operation["requestBody"] = {"required": True, "content": op.request_content}
        paths.setdefault(op.path, {})[op.method] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
