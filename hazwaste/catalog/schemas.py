"""Output schemas for reference data."""

from __future__ import annotations

from marshmallow import fields

from hazwaste.schemas import BaseSchema


class WasteCodeOutSchema(BaseSchema):
    code = fields.String()
    edition = fields.String(attribute="edition_code")
    category = fields.String()
    category_name = fields.String()
    industry_source = fields.String()
    description = fields.String()
    hazards = fields.List(fields.String())
    hazard_raw = fields.String()


class TreatmentMethodOutSchema(BaseSchema):
    code = fields.String()
    kind = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    provisional = fields.Boolean()


class RegionOutSchema(BaseSchema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
