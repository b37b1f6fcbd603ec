"""Input of the holiday pages and API: a schedule file, or one year's days as JSON."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hazwaste.holidays.services import KINDS, MAX_ROWS
from hazwaste.schemas import N_, BaseSchema, length, one_of


class RecomputeJobSchema(Schema):
    year = fields.Integer(required=True, strict=True)


class DayInSchema(BaseSchema):
    date = fields.Date(required=True)
    kind = fields.String(required=True, validate=one_of(sorted(KINDS)))
    name = fields.String(load_default="", validate=length(max=40))


class YearInSchema(BaseSchema):
    """``PUT /api/v1/holidays/{year}``: the year's days off and make-up working days."""

    source = fields.String(load_default="", validate=length(max=200))
    days = fields.List(
        fields.Nested(DayInSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_ROWS, error=N_("Give between 1 and 5000 days.")),
    )


class UploadSchema(BaseSchema):
    source = fields.String(load_default="", validate=length(max=200))


class DayOutSchema(Schema):
    date = fields.Date()
    kind = fields.String()
    name = fields.String()


class YearOutSchema(Schema):
    year = fields.Integer()
    source = fields.String(metadata={"description": "official, library or estimate"})
    document = fields.String(metadata={"description": "the notice the official days come from"})
    loaded_at = fields.DateTime(allow_none=True)
    days_off = fields.Integer()
    workdays = fields.Integer()
