"""Query and form schemas of the oversight pages and API (shared by both)."""

from __future__ import annotations

from marshmallow import fields, validate

from hazwaste.schemas import N_, BaseSchema, Id, one_of

MONTH = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error=N_("A month looks like 2026-03."))
REGION = validate.Regexp(r"^\d{2,6}$", error=N_("A region code prefix has 2 to 6 digits."))
WASTE_CODE = validate.Regexp(
    r"^\d{3}-\d{3}-\d{2}$", error=N_("A waste code looks like 900-041-49.")
)


class BalanceFilterSchema(BaseSchema):
    organization_id = Id(load_default=None)
    region = fields.String(load_default=None, validate=REGION)
    waste_code = fields.String(load_default=None, validate=WASTE_CODE)
    month_from = fields.String(load_default=None, validate=MONTH)
    month_to = fields.String(load_default=None, validate=MONTH)
    group = fields.String(load_default="enterprise", validate=one_of(["enterprise", "region"]))
    format = fields.String(load_default=None, validate=one_of(["csv", "xlsx"]))


class BalanceRowOutSchema(BaseSchema):
    key = fields.String()
    organization_id = fields.Integer(allow_none=True)
    name = fields.String()
    region_code = fields.String()
    month = fields.String()
    waste_code = fields.String()
    generated = fields.Decimal(as_string=True)
    shipped = fields.Decimal(as_string=True)
    received = fields.Decimal(as_string=True)
    disposed = fields.Decimal(as_string=True)
    stock = fields.Decimal(as_string=True)


class RiskFilterSchema(BaseSchema):
    region = fields.String(load_default=None, validate=REGION)
    grade = fields.String(
        load_default=None, validate=one_of(["trustworthy", "good", "warning", "poor"])
    )


class RatingOutSchema(BaseSchema):
    organization_id = fields.Integer()
    name = fields.String()
    region_code = fields.String()
    score = fields.Decimal(as_string=True)
    grade = fields.String()
    flags = fields.Integer()
    open_flags = fields.Integer()
    late_responses = fields.Integer()
    by_severity = fields.Dict(keys=fields.String(), values=fields.Integer())


class DrawSchema(BaseSchema):
    n = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=500, error=N_("Give a number from 1 to 500.")),
    )
    role = fields.String(load_default=None, validate=one_of(["producer", "carrier", "receiver"]))
    region = fields.String(load_default=None, validate=REGION)
    weighting = fields.String(load_default="uniform", validate=one_of(["uniform", "risk"]))
    inspectors = fields.String(load_default="inspectors", validate=one_of(["inspectors", "all"]))
    seed = fields.String(
        load_default=None,
        validate=validate.Regexp(
            r"^[0-9A-Za-z_-]{1,64}$", error=N_("Up to 64 letters, digits, - or _.")
        ),
    )


class PickOutSchema(BaseSchema):
    organization_id = fields.Integer()
    inspector_ids = fields.List(fields.Integer())


class DrawOutSchema(BaseSchema):
    id = fields.Integer()
    regulator_body_id = fields.Integer()
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    seed = fields.String()
    inputs = fields.Dict()
    result = fields.List(fields.Nested(PickOutSchema))
    #: Whether re-running the draw gave the same result; null where it was not re-run (lists,
    #: creation).
    verified = fields.Boolean(allow_none=True)
