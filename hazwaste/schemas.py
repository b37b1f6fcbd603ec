"""Shared marshmallow building blocks: translated messages, form input cleaning, quantities.

Web forms and the JSON API load the same schemas. Messages are English msgids marked with
:func:`N_` (marshmallow needs plain strings) and translated into the request's language when
they are shown: :func:`field_errors` does that for pages and the API alike.
"""

from __future__ import annotations

import re
from decimal import (
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
)
from typing import Any

from flask_babel import gettext
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate
from werkzeug.datastructures import MultiDict

from hazwaste.db import KG_PER_TONNE
from hazwaste.errors import INT_MAX
from hazwaste.pagination import PAGE_MAX


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later by :func:`translate_messages`."""
    return message


_MESSAGES: dict[type[fields.Field], dict[str, Any]] = {
    fields.Field: {
        "required": N_("This field is required."),
        "null": N_("This field is required."),
        "validator_failed": N_("Invalid value."),
    },
    fields.String: {"invalid": N_("Not a valid text."), "invalid_utf8": N_("Not valid text.")},
    fields.Number: {"invalid": N_("Not a valid number."), "too_large": N_("Number too large.")},
    fields.Integer: {"invalid": N_("Not a whole number.")},
    fields.Decimal: {"special": N_("Not a valid number.")},
    fields.Boolean: {"invalid": N_("Not a valid yes/no value.")},
    fields.Date: {"invalid": N_("Not a valid date (YYYY-MM-DD)."), "format": N_("Invalid date.")},
    fields.DateTime: {"invalid": N_("Not a valid date and time."), "format": N_("Invalid time.")},
    fields.Email: {"invalid": N_("Not a valid e-mail address.")},
    fields.List: {"invalid": N_("Not a valid list.")},
    fields.Nested: {"type": N_("Invalid data.")},
    fields.Float: {"special": N_("Not a valid number.")},
}
for _cls, _msgs in _MESSAGES.items():
    _cls.default_error_messages = {**_cls.default_error_messages, **_msgs}

_SCHEMA_MESSAGES = {"type": N_("Invalid input type."), "unknown": N_("Unknown field.")}
Schema.error_messages = {**getattr(Schema, "error_messages", {}), **_SCHEMA_MESSAGES}


class _Length(validate.Length):
    """Length validator whose message is translated when it is raised."""

    def _format_error(self, value: Any, message: str) -> str:
        # marshmallow passes its own default text as `message`; ours is in self.error.
        text = gettext(self.error or message)
        return text.format(input=value, min=self.min, max=self.max, equal=self.equal)


def length(min: int | None = None, max: int | None = None) -> validate.Length:
    if min and max:
        msg = N_("Enter between {min} and {max} characters.")
    elif max:
        msg = N_("Enter at most {max} characters.")
    else:
        msg = N_("Enter at least {min} characters.")
    return _Length(min=min, max=max, error=msg)


def one_of(choices: Any) -> validate.OneOf:
    return validate.OneOf(list(choices), error=N_("Choose one of the listed values."))


class BaseSchema(Schema):
    """Ignores unknown keys; for form posts, trims text and treats blank fields as absent."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _clean(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, MultiDict):
            data = form_dict(data, self.list_fields())
        if not isinstance(data, dict):
            return data
        cleaned: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                if value == "":
                    continue
            cleaned[key] = value
        return cleaned

    def list_fields(self) -> set[str]:
        return {name for name, f in self.fields.items() if isinstance(f, fields.List)}


def form_dict(form: MultiDict[str, str], list_fields: set[str]) -> dict[str, Any]:
    """Flatten a submitted form: list fields keep every value, the rest keep the first."""
    out: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        if key in list_fields:
            out[key] = [v for v in form.getlist(key) if v.strip()]
        else:
            out[key] = form.get(key)
    return out


QUANTITY_PLACES = Decimal("0.001")  # one gram
#: Every quantity field accepts less than this, in its own unit (kg columns hold integer
#: grams in 64 bits, and no single waste movement comes near a million tonnes).
MAX_QUANTITY = Decimal("1e12")
#: Longer number texts are refused before Decimal reads them.
MAX_NUMBER_CHARS = 50
#: Exact arithmetic on checked input (at most 50 characters, so 80 digits never round).
_EXACT = Context(prec=80, Emax=10**6, Emin=-(10**6), traps=[InvalidOperation, Inexact])
#: Rounding to the gram, to compare with the value (digits are bounded by MAX_QUANTITY).
_ROUNDING = Context(prec=80, Emax=10**6, Emin=-(10**6), traps=[InvalidOperation])


class QuantityInputError(ValueError):
    """Why a quantity was refused: ``key`` names the field's error message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_quantity(
    value: Any, *, scale: Decimal | None = None, positive: bool = True, places: bool = True
) -> Decimal:
    """User input (number or text, ``,`` as thousands separator) as an exact ``Decimal``.

    The one validation behind every quantity field. Size and exponent are checked on the
    number as typed, before any arithmetic, and all arithmetic runs in an exact context, so
    no input (``1e25``, ``1e309``, ``1E+40``, 50 nines, ``1e-999999``) raises a decimal error:
    each becomes a :class:`QuantityInputError` with key ``invalid``, ``too_large``,
    ``positive``, ``negative`` or ``precision``. ``scale`` multiplies the result (1000 for
    tonnes to kg); the size limit (:data:`MAX_QUANTITY`) applies to the scaled result.
    With ``places`` the result must be whole grams and is returned with three decimals;
    without, it is returned as typed (the caller converts it later, see :func:`to_kg`).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise QuantityInputError("invalid")
    if isinstance(value, int) and abs(value) >= MAX_QUANTITY:
        raise QuantityInputError("too_large")  # str() of a huge int is itself slow
    text = value.strip().replace(",", "") if isinstance(value, str) else str(value)
    if not text or len(text) > MAX_NUMBER_CHARS:
        raise QuantityInputError("invalid")
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError) as exc:
        raise QuantityInputError("invalid") from exc
    if not number.is_finite():
        raise QuantityInputError("invalid")
    if number.is_zero():
        number = Decimal(0)  # "-0" and "0e99" are zero, never a negative zero in records
    limit = MAX_QUANTITY / scale if scale else MAX_QUANTITY
    # adjusted() is the power of ten of the leading digit: read without arithmetic, so a
    # huge exponent is refused here instead of overflowing a multiplication or quantize.
    if number and number.adjusted() >= limit.adjusted() + 1:
        raise QuantityInputError("too_large")
    if number and number.adjusted() < -20:
        raise QuantityInputError("precision")  # far below a gram in any unit
    try:
        if scale is not None:
            number = _EXACT.multiply(number, scale)
        if positive and number <= 0:
            raise QuantityInputError("positive")
        if number < 0:
            raise QuantityInputError("negative")
        if number >= MAX_QUANTITY:
            raise QuantityInputError("too_large")
        if not places:
            return number
        grams = _to_grams(number)
    except DecimalException as exc:  # unreachable after the checks above; never a 500
        raise QuantityInputError("invalid") from exc
    if grams is None:
        raise QuantityInputError("precision")
    return grams


def _to_grams(kg: Decimal) -> Decimal | None:
    """``kg`` with three decimals, or None if finer than one gram (``kg`` below 1e12)."""
    rounded = _ROUNDING.quantize(kg, QUANTITY_PLACES)
    return rounded if rounded == kg else None


class Weight(fields.Field):
    """A weight in kilograms (or tonnes with ``unit="t"``), exact to the gram, as ``Decimal``.

    Accepts numbers and numeric strings; floats are converted through ``str`` so ``0.1`` stays
    ``0.1``. Rejects negatives unless ``allow_zero``/``positive`` say otherwise, anything
    finer than one gram, and anything from a million tonnes (see :func:`parse_quantity`).
    """

    default_error_messages = {
        "invalid": N_("Enter a number, for example 1250.5."),
        "positive": N_("Must be greater than zero."),
        "negative": N_("Must not be negative."),
        "precision": N_("At most three decimals (one gram)."),
        "too_large": N_("Too large."),
    }

    def __init__(self, *, unit: str = "kg", positive: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unit = unit
        self.positive = positive

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        scale = KG_PER_TONNE if self.unit == "t" else None
        try:
            return parse_quantity(value, scale=scale, positive=self.positive)
        except QuantityInputError as exc:
            raise self.make_error(exc.key) from exc

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        number = Decimal(value)
        if self.unit == "t":
            number = number / KG_PER_TONNE
        return format(number.normalize(), "f")


class Id(fields.Integer):
    """The id of a database row: a whole number from 1 to :data:`~hazwaste.errors.INT_MAX`.

    Every primary key is a 32-bit ``INTEGER``; a larger number in a query or an insert
    overflows (SQLite beyond 64 bits: ``OverflowError``; PostgreSQL: "integer out of
    range"), so it is refused here with a field message.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(min=1, max=INT_MAX, error=N_("Not a valid id.")))


class PageNumber(fields.Integer):
    """A 1-based page number of a list, at most :data:`~hazwaste.pagination.PAGE_MAX`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("load_default", 1)
        super().__init__(**kwargs)
        message = N_("Not a valid page number.")
        self.validators.insert(0, validate.Range(min=1, max=PAGE_MAX, error=message))


def translate_messages(messages: Any) -> Any:
    """Translate every message string in a (nested) marshmallow error structure."""
    if isinstance(messages, str):
        return gettext(messages)
    if isinstance(messages, dict):
        return {key: translate_messages(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translate_messages(value) for value in messages]
    return messages


def field_errors(exc: ValidationError) -> dict[str, Any]:
    """Translated messages keyed by field (``_schema`` for whole-form errors)."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return dict(translate_messages(messages))


class Amount(fields.Field):
    """A positive decimal quantity in the unit given beside it (converted by :func:`to_kg`)."""

    default_error_messages = {
        "invalid": N_("Enter a number, for example 1250.5."),
        "positive": N_("Must be greater than zero."),
        "negative": N_("Must not be negative."),
        "precision": N_("At most three decimals (one gram)."),
        "too_large": N_("Too large."),
    }

    def __init__(self, *, positive: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.positive = positive

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_quantity(value, positive=self.positive, places=False)
        except QuantityInputError as exc:
            raise self.make_error(exc.key) from exc


UNITS = ("kg", "t")


def to_kg(value: Decimal, unit: str) -> Decimal | None:
    """``value`` in ``unit`` as kilograms, or None if finer than one gram."""
    kg = _EXACT.multiply(value, KG_PER_TONNE) if unit == "t" else value
    return _to_grams(kg)


PRECISION_MESSAGE = N_("At most three decimals in kg (one gram).")


#: Row indices a nested form may use (``lines-0-…`` to ``lines-999-…``): far above any
#: line cap (a manifest has at most 50 lines), so no form the pages render is cut.
FORM_ROWS_MAX = 1000
_ROW_KEY = re.compile(r"(?P<index>[0-9]{1,4})-(?P<name>[a-z][a-z0-9_]{0,63})", re.ASCII)


def nested_form(
    form: MultiDict[str, str],
    prefix: str = "lines",
    defaults: tuple[str, ...] = ("_unit",),
    max_rows: int = FORM_ROWS_MAX,
) -> dict[str, Any]:
    """Turn ``lines-0-waste_code``-style form fields into ``{"lines": [{...}, ...]}``.

    Other fields are copied as in :func:`form_dict` (first value; repeated fields inside
    lines such as ``hazards`` keep every value). Rows left blank are dropped; a field whose
    name ends with one of ``defaults`` (e.g. a unit select that always has a value) does not
    make a row count as filled in.

    Row keys are matched strictly: ``<prefix>-<index>-<name>`` with an ASCII index below
    ``max_rows`` and a lower-case field name. Anything else under the prefix (``lines-0``,
    ``lines-²-waste_code``, ``lines--x``, ``lines-0-``, ``lines-99999999999-waste_code``)
    comes from no page of the application and is ignored, never a crash; the schema then
    reports what is missing.
    """
    out: dict[str, Any] = {}
    rows: dict[int, dict[str, Any]] = {}
    head = prefix + "-"
    for key in form:
        if key == "csrf_token":
            continue
        if key.startswith(head):
            found = _ROW_KEY.fullmatch(key, len(head))
            if found is None or int(found["index"]) >= max_rows:
                continue
            values = list(form.getlist(key))
            row = rows.setdefault(int(found["index"]), {})
            row[found["name"]] = values if len(values) > 1 else values[0]
        elif key != prefix:  # a bare "lines" field would replace the rows
            out[key] = form.get(key)

    def filled(name: str, value: Any) -> bool:
        if name.endswith(defaults):
            return False
        if isinstance(value, list):
            return any(str(v).strip() for v in value)
        return bool(str(value).strip())

    out[prefix] = [
        row
        for _index, row in sorted(rows.items())
        if any(filled(name, value) for name, value in row.items())
    ]
    return out


# -- bounded lists and capped row errors -------------------------------------------------------

#: Items a request list may hold when its field gives no tighter bound of its own.
LIST_MAX_ITEMS = 1000
#: Row errors an answer lists at most (the API body, the import pages); the rest are counted.
ROW_ERRORS_MAX = 100


class BoundedList(fields.List):
    """A list whose length is checked on the raw input, before any item is deserialized.

    ``fields.List`` with ``validate.Length`` loads every item first and checks the length
    afterwards: a million items cost minutes and gigabytes before the refusal. Here a list
    longer than ``max_items`` (or shorter than ``min_items``) is refused at once with one
    message on the field itself; ``too_long``/``too_short`` replace the default messages and
    may use ``{max}`` and ``{min}``.
    """

    default_error_messages = {
        "too_long": N_("At most {max} items."),
        "too_short": N_("Give at least {min} items."),
    }

    def __init__(
        self,
        cls_or_instance: Any,
        *,
        max_items: int = LIST_MAX_ITEMS,
        min_items: int = 0,
        too_long: str | None = None,
        too_short: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(cls_or_instance, **kwargs)
        self.max_items = max_items
        self.min_items = min_items
        if too_long:
            self.error_messages["too_long"] = too_long
        if too_short:
            self.error_messages["too_short"] = too_short

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, list | tuple):  # anything else: fields.List says "invalid"
            # Translated now: the message carries the number, so it would not match its msgid
            # when field_errors translates the error structure later.
            if len(value) > self.max_items:
                raise ValidationError(
                    gettext(self.error_messages["too_long"]).format(max=self.max_items)
                )
            if len(value) < self.min_items:
                raise ValidationError(
                    gettext(self.error_messages["too_short"]).format(min=self.min_items)
                )
        return super()._deserialize(value, attr, data, **kwargs)


def _row_number(key: Any) -> int:
    return int(key) if str(key).isdigit() else -1


def capped_rows(rows: dict[Any, Any], limit: int = ROW_ERRORS_MAX) -> tuple[dict[Any, Any], int]:
    """The errors of the first ``limit`` rows (in row order) and how many rows have errors.

    Keeps an answer about a large file or list small: the first rows show what is wrong, the
    count says how much more there is.
    """
    first = sorted(rows.items(), key=lambda item: _row_number(item[0]))[:limit]
    return dict(first), len(rows)


# -- no NUL characters in text -----------------------------------------------------------------

_load_string = fields.String._deserialize


def _load_text_without_nul(
    self: fields.String, value: Any, attr: str | None, data: Any, **kwargs: Any
) -> Any:
    text = _load_string(self, value, attr, data, **kwargs)
    if "\x00" in text:
        raise self.make_error("nul")
    return text


# Every text field of every schema (JSON, forms, query strings, CSV rows): no text typed by a
# person contains NUL, and PostgreSQL cannot store one (the insert failed with a 500).
fields.String._deserialize = _load_text_without_nul  # type: ignore[method-assign]
fields.String.default_error_messages = {
    **fields.String.default_error_messages,
    "nul": N_("Text must not contain NUL characters."),
}
