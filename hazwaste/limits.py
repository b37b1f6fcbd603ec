"""Request size limits, enforced before anything reads or parses a body.

Every request may carry at most ``MAX_CONTENT_LENGTH`` bytes (file uploads are the largest),
API requests at most ``MAX_API_REQUEST_BYTES``, other page posts ``MAX_FORM_MEMORY_SIZE``.
A body announced larger by its ``Content-Length`` is refused with 413 at once, unread,
whether or not the view would read it; a chunked body without a length is cut off by
Werkzeug's limited stream (413 as well) when it grows past the limit. Werkzeug's
``MAX_FORM_PARTS`` and ``MAX_FORM_MEMORY_SIZE`` bound form parsing in the same way.
"""

from __future__ import annotations

import gc

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

#: A request with a body at least this large is followed by a full garbage collection.
COLLECT_AFTER_BYTES = 1024 * 1024


def body_limit() -> int | None:
    """The largest body the current request may carry, in bytes (None: no limit).

    API requests: ``MAX_API_REQUEST_BYTES``. Pages: ``MAX_CONTENT_LENGTH`` for file uploads
    (multipart forms), ``MAX_FORM_MEMORY_SIZE`` for anything else — Werkzeug reads an
    urlencoded form in one piece, so that is the only bound on the fields it builds.
    """
    limit: int | None = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.path.startswith("/api/"):
        tighter = current_app.config.get("MAX_API_REQUEST_BYTES")
    elif request.mimetype != "multipart/form-data":
        tighter = current_app.config.get("MAX_FORM_MEMORY_SIZE")
    else:
        tighter = None
    if tighter is not None:
        limit = tighter if limit is None else min(limit, tighter)
    return limit


def _enforce_body_limit() -> None:
    limit = body_limit()
    request.max_content_length = limit
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def _collect_after_large_body(response: Response) -> Response:
    """Free a large parsed body as soon as its response has been sent.

    What a request parsed from its body lives in reference cycles (Werkzeug's request and
    its environ refer to each other and the request caches the body and its JSON; a
    validation error's traceback holds the frames that hold the data), so it is freed only
    by a full collection, which a worker holding many long-lived objects runs rarely: a
    rejected list of a million items kept ~75 MB in the worker. One collection (tens of
    milliseconds) after such a request, once the client has its answer, returns it.
    """
    if (request.content_length or 0) >= COLLECT_AFTER_BYTES:
        response.call_on_close(gc.collect)
    return response


def init_app(app: Flask) -> None:
    # First of all before-request functions: CSRF protection reads the form of every page
    # post, and nothing may read a body before its limit is set.
    app.before_request_funcs.setdefault(None, []).insert(0, _enforce_body_limit)
    app.after_request(_collect_after_large_body)
