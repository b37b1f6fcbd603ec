"""Language selection: cookie set by the visible switcher, else Accept-Language, else zh_CN."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, has_request_context, redirect, request
from werkzeug.wrappers import Response

from hazwaste.extensions import babel

LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    languages: tuple[str, ...] = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs: the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    # Accept-Language says "zh-CN" or "zh"; map both to our zh_CN catalogue.
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best in ("zh-CN", "zh"):
        return "zh_CN"
    if best == "en":
        return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after login or a language switch."""
    if not target:
        return default
    # Browsers read "/\\host" as "//host" and drop tabs and newlines ("/\t/host"): refuse both.
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.get("/lang/<code>")
def switch(code: str) -> Response:
    """Remember the chosen language in a cookie and go back where the user was."""
    target = safe_next(request.args.get("next"))
    response = redirect(target)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=LANG_COOKIE_MAX_AGE,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
        )
    return response


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)

    @app.context_processor
    def inject_locale() -> dict[str, Any]:
        from babel import Locale
        from flask_babel import get_locale

        # Babel expands "zh_CN" to zh_Hans_CN (hence the catalogue's directory name);
        # templates compare against our own codes, so map the locale back to one of them.
        locale = get_locale()
        languages = app.config["LANGUAGES"]
        current = next((code for code in languages if Locale.parse(code) == locale), str(locale))
        return {"current_locale": current, "languages": languages}
