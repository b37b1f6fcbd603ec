"""Output schemas for reference data."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hazwaste.catalog.editions import MAX_FILE_BYTES
from hazwaste.schemas import N_, BaseSchema, length


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


class WasteCodeQuerySchema(BaseSchema):
    q = fields.String(load_default="", validate=length(max=100))
    category = fields.String(load_default=None, validate=length(max=4))
    on = fields.Date(load_default=None)
    limit = fields.Integer(load_default=50)
    offset = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 10_000, error=N_("An offset between 0 and 10000.")),
    )


class EditionOutSchema(Schema):
    code = fields.String()
    name = fields.String()
    decree = fields.String()
    effective_from = fields.Date()
    waste_codes = fields.Integer()


class EditionImportSchema(BaseSchema):
    code = fields.String(required=True, validate=length(1, 16))
    name = fields.String(required=True, validate=length(1, 200))
    decree = fields.String(load_default="", validate=length(max=200))
    effective_from = fields.Date(required=True)
    csv = fields.String(required=True, validate=length(1, MAX_FILE_BYTES))
    dry_run = fields.Boolean(load_default=True)
    keep_exemptions = fields.Boolean(load_default=True)


class ChangeOutSchema(Schema):
    code = fields.String()
    field = fields.String()
    before = fields.String()
    after = fields.String()


class DiffOutSchema(Schema):
    base = fields.String(allow_none=True)
    total = fields.Integer()
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    changed = fields.List(fields.Nested(ChangeOutSchema))
    loaded = fields.Boolean()
