"""JSON encoding for the API: Decimals as strings (exact), lazy translations as text."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask.json.provider import DefaultJSONProvider
from flask_babel.speaklater import LazyString


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return format(o, "f")
        if isinstance(o, LazyString):
            return str(o)
        return DefaultJSONProvider.default(o)
