"""Permit schemas shared by the pages and the API, so both validate alike.

Input schemas accept a posted form (tonnes, lists as text or repeated checkboxes) and JSON
(lists as JSON arrays); quantities load as ``Decimal`` kilograms. Output schemas give
quantities as decimal strings in kg, with tonnes beside them where people think in tonnes.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from marshmallow import ValidationError, fields, pre_load, validate, validates

from hazwaste.db import KG_PER_TONNE, utcnow
from hazwaste.permits.models import MODES, CarrierPermit, Licence
from hazwaste.schemas import LIST_MAX_ITEMS, N_, BaseSchema, BoundedList, Id, Weight, length, one_of

WASTE_CODE_RE = re.compile(r"^\d{3}-\d{3}-\d{2}$")
CATEGORY_RE = re.compile(r"^HW\d{2}$")
WASTE_CODE = validate.Regexp(WASTE_CODE_RE, error=N_("A waste code looks like 900-041-49."))

#: What separates items typed into one text field: spaces, commas (ASCII and full-width),
#: semicolons and the Chinese enumeration comma.
_SEPARATORS = re.compile(r"[\s,，;；、]+")


def split_items(value: Any) -> list[str]:
    """Upper-cased items of a JSON list or of text separated by spaces or commas.

    A form posts each checkbox as one value and a text field as one string; JSON sends a
    list. Every element is split as well, so ``["HW08 HW49"]`` and ``"HW08,HW49"`` both give
    ``["HW08", "HW49"]``. Anything else (a number, an object) is left for the field to reject.
    """
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or len(value) > LIST_MAX_ITEMS:
        return value  # the field rejects it (a list too long: by its length, unsplit)
    items: list[str] = []
    for element in value:
        if not isinstance(element, str):
            return list(value)  # the List field reports the bad element
        items.extend(part.upper() for part in _SEPARATORS.split(element.strip()) if part)
    return list(dict.fromkeys(items))  # a repeated item means nothing more


def _malformed(values: list[str], pattern: re.Pattern[str]) -> str:
    """The items not matching ``pattern``, comma-separated ("" if none)."""
    return ", ".join(v for v in values if not pattern.match(v))


class LicenceSchema(BaseSchema):
    """A receiver's licence (危险废物经营许可证); capacity typed in tonnes, kept in kg."""

    number = fields.String(required=True, validate=length(1, 60))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    annual_capacity_kg = Weight(required=True, unit="t", data_key="annual_capacity_t")
    scope_categories = BoundedList(fields.String(), load_default=list)
    scope_codes = BoundedList(fields.String(), load_default=list)
    methods = BoundedList(fields.String(validate=length(1, 8)), load_default=list)
    #: 经营方式 (collect, store, utilise, dispose); default: all four (综合经营许可证).
    modes = BoundedList(fields.String(validate=one_of(MODES)), load_default=lambda: list(MODES))
    note = fields.String(load_default="", validate=length(max=1000))

    LIST_KEYS = ("scope_categories", "scope_codes", "methods")  # upper-cased codes

    @pre_load
    def _lists(self, data: Any, **kwargs: Any) -> Any:
        # Runs after BaseSchema._clean, which has turned a form into a dict with these keys
        # as lists of the raw posted strings.
        if isinstance(data, dict):
            data = dict(data)
            for key in self.LIST_KEYS:
                if key in data:
                    data[key] = split_items(data[key])
        return data

    @validates("scope_categories")
    def _categories(self, value: list[str], **kwargs: Any) -> None:
        bad = _malformed(value, CATEGORY_RE)
        if bad:
            raise ValidationError(_("Not a category (they look like HW08): %(list)s", list=bad))

    @validates("scope_codes")
    def _codes(self, value: list[str], **kwargs: Any) -> None:
        bad = _malformed(value, WASTE_CODE_RE)
        if bad:
            raise ValidationError(
                _("Not a waste code (they look like 900-041-49): %(list)s", list=bad)
            )


class RevokeSchema(BaseSchema):
    """Revoking a licence: an optional reason; the page also asks for a confirmation tick."""

    reason = fields.String(load_default="", validate=length(max=500))


class CarrierPermitSchema(BaseSchema):
    """A carrier's road transport permit for dangerous goods (道路危险货物运输许可证)."""

    number = fields.String(required=True, validate=length(1, 60))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class VehicleSchema(BaseSchema):
    """A vehicle: the plate is checked (and normalised) by the service; load in tonnes."""

    plate = fields.String(required=True, validate=length(2, 12))
    vehicle_type = fields.String(load_default="", validate=length(max=60))
    max_load_kg = Weight(required=True, unit="t", data_key="max_load_t")


class VehicleActiveSchema(BaseSchema):
    active = fields.Boolean(required=True)


class DriverSchema(BaseSchema):
    """Papers of a driver: the user (role driver) and the licences a roadside check asks for."""

    user_id = Id(required=True)
    licence_number = fields.String(required=True, validate=length(1, 40))
    qualification_number = fields.String(required=True, validate=length(1, 40))
    qualification_valid_to = fields.Date(required=True)


class CoverageQuerySchema(BaseSchema):
    """Does the receiver hold a licence covering the waste code on the date (default today)?"""

    receiver_id = Id(required=True)
    waste_code = fields.String(required=True, validate=WASTE_CODE)
    on = fields.Date(load_default=None)

    @pre_load
    def _code(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("waste_code"), str):
            data = {**data, "waste_code": data["waste_code"].strip()}
        return data


# -- output ------------------------------------------------------------------------------------


def tonnes_text(kg: Decimal) -> str:
    """A weight in kg as a plain decimal string of tonnes: ``Decimal("18000")`` → ``"18"``."""
    return format((Decimal(kg) / KG_PER_TONNE).normalize(), "f")


class _StateMixin:
    """Output schemas that show a validity state: judged on ``today`` (default: today in
    China) with ``warning_days`` (default: ``LICENCE_EXPIRY_WARNING_DAYS``)."""

    def __init__(
        self, *, today: date | None = None, warning_days: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.today = today
        self.warning_days = warning_days

    def state_of(self, permit: Any) -> str:
        from hazwaste.permits.services import local_today, validity_state

        if self.today is None:
            self.today = local_today(utcnow())
        if self.warning_days is None:
            self.warning_days = int(current_app.config["LICENCE_EXPIRY_WARNING_DAYS"])
        return validity_state(permit, self.today, self.warning_days)


class LicenceOutSchema(_StateMixin, BaseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    number = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()
    status = fields.Method(
        "get_status",
        metadata={
            "description": "valid, expiring (within the warning days), expired, "
            "revoked or future (not yet valid)"
        },
    )
    annual_capacity_kg = fields.Decimal(as_string=True)
    annual_capacity_t = fields.Function(lambda lic: tonnes_text(lic.annual_capacity_kg))
    scope_categories = fields.List(fields.String())
    scope_codes = fields.List(fields.String())
    methods = fields.List(fields.String(), attribute="method_codes")
    modes = fields.List(fields.String(), attribute="mode_list")
    note = fields.String()
    revoked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()

    def get_status(self, licence: Licence) -> str:
        return self.state_of(licence)


class CarrierPermitOutSchema(_StateMixin, BaseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    number = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()
    status = fields.Method("get_status")
    revoked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()

    def get_status(self, permit: CarrierPermit) -> str:
        return self.state_of(permit)


class VehicleOutSchema(BaseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    plate = fields.String()
    vehicle_type = fields.String()
    max_load_kg = fields.Decimal(as_string=True)
    max_load_t = fields.Function(lambda v: tonnes_text(v.max_load_kg))
    active = fields.Boolean()
    created_at = fields.DateTime()


class DriverOutSchema(BaseSchema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.Function(lambda d: d.user.name)
    email = fields.Function(lambda d: d.user.email)
    licence_number = fields.String()
    qualification_number = fields.String()
    qualification_valid_to = fields.Date()
    active = fields.Boolean()
    created_at = fields.DateTime()


class CoveringLicenceOutSchema(BaseSchema):
    id = fields.Integer(attribute="licence.id")
    number = fields.String(attribute="licence.number")
    valid_from = fields.Date(attribute="licence.valid_from")
    valid_to = fields.Date(attribute="licence.valid_to")
    methods = fields.List(fields.String(), attribute="licence.method_codes")
    matched_by = fields.String(
        metadata={"description": "code (the code itself is in scope) or category (its HW class)"}
    )


class CoverageOutSchema(BaseSchema):
    receiver_id = fields.Integer(attribute="receiver.id")
    receiver_name = fields.String(attribute="receiver.name")
    waste_code = fields.String()
    on = fields.Date()
    covered = fields.Boolean()
    licence_numbers = fields.List(fields.String())
    licences = fields.List(fields.Nested(CoveringLicenceOutSchema), attribute="matches")
