"""OpenAPI 3 document generated from the marshmallow schemas the endpoints really use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

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
) -> Callable[[F], F]:
    """Record an endpoint for the OpenAPI document (``path`` in OpenAPI ``{param}`` form)."""

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
            )
        )
        return view

    return decorator


ERROR_SCHEMA = {
    "type": "object",
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

DEFAULT_STATUSES = {
    401: "Missing, invalid or expired bearer token",
    403: "Not allowed for this user",
    404: "No such object (or not visible to this user)",
}


def envelope(data: Any) -> dict[str, Any]:
    """Every JSON success body is ``{"data": …}``, lists add ``"meta"`` (paging, counts)."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": data, "meta": {"type": "object", "additionalProperties": True}},
    }


def build_spec() -> dict[str, Any]:
    spec = APISpec(
        title="hazwaste API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Hazardous-waste electronic transfer manifests (电子转移联单). "
            "Quantities are decimal strings in kilograms."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", ERROR_SCHEMA)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            schema: Any = op.response
            data = {"type": "array", "items": schema} if op.many else schema
            body = data if op.content_type != "application/json" else envelope(data)
            ok["content"] = {op.content_type: {"schema": body}}
        elif op.content_type != "application/json":
            ok["content"] = {op.content_type: {"schema": {"type": "string", "format": "binary"}}}
        responses["201" if op.method == "post" and op.statuses.get(201) else "200"] = ok
        statuses = dict(DEFAULT_STATUSES) if op.auth else {}
        if op.request is not None:
            statuses[422] = "Invalid data; `fields` maps each field to its messages"
        statuses.update({k: v for k, v in op.statuses.items() if k != 201})
        for status, text in sorted(statuses.items()):
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        operation: dict[str, Any] = {"summary": op.summary, "tags": op.tags, "responses": responses}
        if op.auth:
            operation["security"] = [{"bearer": []}]
        params: list[dict[str, Any]] = []
        if op.query is not None:
            params.append({"in": "query", "schema": op.query})
        if op.idempotent:
            params.append(
                {
                    "in": "header",
                    "name": "Idempotency-Key",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "A retry with the same key returns the first result.",
                }
            )
        for part in op.path.split("/"):
            if part.startswith("{"):
                params.append(
                    {
                        "in": "path",
                        "name": part[1:-1],
                        "required": True,
                        "schema": {"type": "string"},
                    }
                )
        if params:
            operation["parameters"] = params
        if op.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": op.request}},
            }
        paths.setdefault(op.path, {})[op.method] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
