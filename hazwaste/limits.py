"""Request size limits, enforced before anything reads or parses a body.

Every request may carry at most ``MAX_CONTENT_LENGTH`` bytes (file uploads are the largest);
API requests at most ``MAX_API_REQUEST_BYTES``. A body announced larger by its
``Content-Length`` is refused with 413 at once, unread, whether or not the view would read
it; a chunked body without a length is cut off by Werkzeug's limited stream (413 as well)
when it grows past the limit. Werkzeug's ``MAX_FORM_PARTS`` and ``MAX_FORM_MEMORY_SIZE``
bound form parsing in the same way.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge


def body_limit() -> int | None:
    """The largest body the current request may carry, in bytes (None: no limit)."""
    limit: int | None = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.path.startswith("/api/"):
        api: int | None = current_app.config.get("MAX_API_REQUEST_BYTES")
        if api is not None:
            limit = api if limit is None else min(limit, api)
    return limit


def _enforce_body_limit() -> None:
    limit = body_limit()
    request.max_content_length = limit
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    # First of all before-request functions: CSRF protection reads the form of every page
    # post, and nothing may read a body before its limit is set.
    app.before_request_funcs.setdefault(None, []).insert(0, _enforce_body_limit)
