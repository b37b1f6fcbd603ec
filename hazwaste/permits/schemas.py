"""Permit schemas shared by pages and the API."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, pre_load, validate

from hazwaste.schemas import N_, BaseSchema, Weight, length

WASTE_CODE = validate.Regexp(
    r"^\d{3}-\d{3}-\d{2}$", error=N_("A waste code looks like 900-041-49.")
)
CATEGORY = validate.Regexp(r"^HW\d{2}$", error=N_("A category looks like HW08."))


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip().upper() for v in value if str(v).strip()]
    return [v.upper() for v in str(value or "").replace(",", " ").replace("，", " ").split()]


class LicenceSchema(BaseSchema):
    number = fields.String(required=True, validate=length(1, 60))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    annual_capacity_kg = Weight(required=True, unit="t", data_key="annual_capacity_t")
    scope_categories = fields.List(fields.String(validate=CATEGORY), load_default=list)
    scope_codes = fields.List(fields.String(validate=WASTE_CODE), load_default=list)
    methods = fields.List(fields.String(validate=length(1, 8)), load_default=list)
    note = fields.String(load_default="", validate=length(max=1000))

    @pre_load
    def _lists(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("scope_categories", "scope_codes", "methods"):
                if key in data:
                    data[key] = _split(data[key])
        return data


class CarrierPermitSchema(BaseSchema):
    number = fields.String(required=True, validate=length(1, 60))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class VehicleSchema(BaseSchema):
    plate = fields.String(required=True, validate=length(2, 12))
    vehicle_type = fields.String(load_default="", validate=length(max=60))
    max_load_kg = Weight(required=True, unit="t", data_key="max_load_t")


class DriverSchema(BaseSchema):
    user_id = fields.Integer(required=True)
    licence_number = fields.String(required=True, validate=length(1, 40))
    qualification_number = fields.String(required=True, validate=length(1, 40))
    qualification_valid_to = fields.Date(required=True)


class LicenceOutSchema(BaseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    number = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()
    annual_capacity_kg = fields.Decimal(as_string=True)
    scope_categories = fields.List(fields.String())
    scope_codes = fields.List(fields.String())
    methods = fields.List(fields.String(), attribute="method_codes")
    revoked_at = fields.DateTime(allow_none=True)


class CarrierPermitOutSchema(BaseSchema):
    id = fields.Integer()
    number = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()


class VehicleOutSchema(BaseSchema):
    id = fields.Integer()
    plate = fields.String()
    vehicle_type = fields.String()
    max_load_kg = fields.Decimal(as_string=True)
    active = fields.Boolean()


class DriverOutSchema(BaseSchema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.Function(lambda d: d.user.name)
    licence_number = fields.String()
    qualification_number = fields.String()
    qualification_valid_to = fields.Date()
    active = fields.Boolean()
