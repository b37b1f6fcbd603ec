"""Management plan schemas: the page form (tonnes), the API (kg), CSV rows and output.

The form and the CSV file give quantities in tonnes (as plans are written); the API, like
every other endpoint, speaks kilograms. All load into the same dictionary: ``year``,
``waste_code``, ``planned_generation_kg``, ``planned_transfer_kg``, the receiver, ``note``.
"""

from __future__ import annotations

from marshmallow import fields, validate

from hazwaste.manifests.schemas import WASTE_CODE
from hazwaste.schemas import N_, BaseSchema, Id, Weight, length

#: Plan years accepted anywhere (forms, API, CSV).
YEAR_MIN, YEAR_MAX = 2000, 2100
YEAR = validate.Range(min=YEAR_MIN, max=YEAR_MAX, error=N_("Give a year from 2000 to 2100."))
NOTE_MAX = 500
#: Columns of the plan CSV, in the order of the downloadable template.
CSV_COLUMNS = (
    "year",
    "waste_code",
    "planned_generation_t",
    "planned_transfer_t",
    "intended_receiver_uscc",
    "note",
)
CSV_REQUIRED = ("year", "waste_code", "planned_generation_t", "planned_transfer_t")


class PlanFormSchema(BaseSchema):
    """One plan row as typed in the page form: quantities in tonnes."""

    year = fields.Integer(required=True, validate=YEAR)
    waste_code = fields.String(required=True, validate=WASTE_CODE)
    planned_generation_kg = Weight(
        unit="t", positive=False, required=True, data_key="planned_generation_t"
    )
    planned_transfer_kg = Weight(
        unit="t", positive=False, required=True, data_key="planned_transfer_t"
    )
    intended_receiver_id = Id(load_default=None)
    note = fields.String(load_default="", validate=length(max=NOTE_MAX))


class PlanSchema(BaseSchema):
    """One plan row in the API: quantities in kg (decimal strings or numbers)."""

    year = fields.Integer(required=True, validate=YEAR)
    waste_code = fields.String(required=True, validate=WASTE_CODE)
    planned_generation_kg = Weight(positive=False, required=True)
    planned_transfer_kg = Weight(positive=False, required=True)
    intended_receiver_id = Id(load_default=None, allow_none=True)
    note = fields.String(load_default="", validate=length(max=NOTE_MAX))


class PlanCsvRowSchema(BaseSchema):
    """One CSV line: tonnes, and the receiver by its unified social credit code."""

    year = fields.Integer(required=True, validate=YEAR)
    waste_code = fields.String(required=True, validate=WASTE_CODE)
    planned_generation_kg = Weight(
        unit="t", positive=False, required=True, data_key="planned_generation_t"
    )
    planned_transfer_kg = Weight(
        unit="t", positive=False, required=True, data_key="planned_transfer_t"
    )
    intended_receiver_uscc = fields.String(load_default=None, validate=length(max=18))
    note = fields.String(load_default="", validate=length(max=NOTE_MAX))


class YearArgsSchema(BaseSchema):
    """``?year=`` of the plan pages and the list endpoint; absent means the current year."""

    year = fields.Integer(load_default=None, validate=YEAR)


class PlanOutSchema(BaseSchema):
    id = fields.Integer()
    year = fields.Integer()
    waste_code = fields.String()
    planned_generation_kg = fields.Decimal(as_string=True)
    planned_transfer_kg = fields.Decimal(as_string=True)
    intended_receiver_id = fields.Integer(allow_none=True)
    intended_receiver_name = fields.Function(
        lambda p: p.intended_receiver.name if p.intended_receiver else None
    )
    intended_receiver_uscc = fields.Function(
        lambda p: p.intended_receiver.uscc if p.intended_receiver else None
    )
    note = fields.String()
    updated_at = fields.AwareDateTime()


class SavedPlanOutSchema(BaseSchema):
    """The saved row, whether it was created (else updated), and warnings to show."""

    plan = fields.Nested(PlanOutSchema)
    created = fields.Boolean()
    warnings = fields.List(fields.String())


class PlanRowOutSchema(BaseSchema):
    """Plan versus actual for one waste code (``plan`` is absent for unplanned waste)."""

    waste_code = fields.String()
    plan = fields.Nested(PlanOutSchema, allow_none=True)
    planned_generation_kg = fields.Decimal(as_string=True, allow_none=True)
    actual_generated_kg = fields.Decimal(as_string=True)
    generation_pct = fields.Decimal(as_string=True, allow_none=True)
    planned_transfer_kg = fields.Decimal(as_string=True, allow_none=True)
    actual_shipped_kg = fields.Decimal(as_string=True)
    transfer_pct = fields.Decimal(as_string=True, allow_none=True)


class TierFigureOutSchema(BaseSchema):
    year = fields.Integer()
    source = fields.String()
    generated_kg = fields.Decimal(as_string=True, attribute="kg")


class TierOutSchema(BaseSchema):
    tier = fields.Function(lambda t: t.tier.value)
    label = fields.Function(lambda t: str(t.label))
    figures = fields.List(fields.Nested(TierFigureOutSchema))
    deciding = fields.Nested(TierFigureOutSchema)
    key_supervision_min_kg = fields.Decimal(as_string=True)
    simplified_min_kg = fields.Decimal(as_string=True)


class PlanYearOutSchema(BaseSchema):
    year = fields.Integer()
    rows = fields.List(fields.Nested(PlanRowOutSchema))
    tier = fields.Nested(TierOutSchema)


class ImportOutSchema(BaseSchema):
    created = fields.Integer()
    updated = fields.Integer()
    years = fields.List(fields.Integer())
    warnings = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
