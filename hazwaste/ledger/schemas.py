"""Container, ledger and CSV import schemas (pages, API and imports share them)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, pre_load, validate

from hazwaste.catalog.models import HAZARD_CODES
from hazwaste.ledger.models import ContainerStatus, LedgerKind, PackagingType
from hazwaste.manifests.models import PhysicalForm
from hazwaste.manifests.schemas import WASTE_CODE, _as_list
from hazwaste.schemas import N_, BaseSchema, BoundedList, PageNumber, Weight, length, one_of

#: Column names of the bulk-registration CSV, in the order of the downloadable template.
CSV_COLUMNS = (
    "waste_code",
    "waste_name",
    "physical_form",
    "hazards",
    "main_components",
    "harmful_components",
    "packaging_type",
    "net_weight_kg",
    "generation_date",
    "source_process",
)
#: Containers one ``POST /api/v1/containers/bulk`` registers at most (about 2 MB of JSON);
#: larger sets go in several requests, or through the CSV import.
BULK_CONTAINERS_MAX = 5000


class ContainerSchema(BaseSchema):
    waste_code = fields.String(required=True, validate=WASTE_CODE)
    waste_name = fields.String(required=True, validate=length(1, 200))
    physical_form = fields.String(required=True, validate=one_of([f.value for f in PhysicalForm]))
    hazards = BoundedList(
        fields.String(validate=one_of(HAZARD_CODES)),
        required=True,
        min_items=1,
        max_items=len(HAZARD_CODES),
        too_short=N_("Choose at least one."),
    )
    main_components = fields.String(load_default="", validate=length(max=300))
    harmful_components = fields.String(load_default="", validate=length(max=300))
    packaging_type = fields.String(required=True, validate=one_of([p.value for p in PackagingType]))
    net_weight_kg = Weight(required=True)
    generation_date = fields.Date(required=True)
    source_process = fields.String(load_default="", validate=length(max=200))

    @pre_load
    def _lists(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "hazards" in data:
            data = {**data, "hazards": _as_list(data["hazards"])}
        return data


class BulkContainersSchema(BaseSchema):
    containers = BoundedList(
        fields.Nested(ContainerSchema),
        required=True,
        min_items=1,
        max_items=BULK_CONTAINERS_MAX,
        too_short=N_("No containers given."),
    )


class LedgerEntrySchema(BaseSchema):
    waste_code = fields.String(required=True, validate=WASTE_CODE)
    kind = fields.String(
        required=True,
        validate=one_of(
            [LedgerKind.GENERATED.value, LedgerKind.SELF_USED.value, LedgerKind.STOCK_COUNT.value]
        ),
    )
    quantity_kg = Weight(required=True, positive=False)
    occurred_on = fields.Date(required=True)
    method_code = fields.String(load_default=None, validate=length(max=8))
    note = fields.String(load_default="", validate=length(max=500))


class SelfDisposalSchema(BaseSchema):
    method_code = fields.String(required=True, validate=length(1, 8))
    on = fields.Date(required=True)
    note = fields.String(load_default="", validate=length(max=500))


class LedgerFilterSchema(BaseSchema):
    waste_code = fields.String(load_default=None, validate=WASTE_CODE)
    kind = fields.String(load_default=None, validate=one_of([k.value for k in LedgerKind]))
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)
    page = PageNumber()
    format = fields.String(load_default=None, validate=one_of(["csv", "xlsx"]))


class ContainerFilterSchema(BaseSchema):
    status = fields.String(load_default=None, validate=one_of([s.value for s in ContainerStatus]))
    waste_code = fields.String(load_default=None, validate=WASTE_CODE)
    q = fields.String(load_default=None, validate=length(max=40))
    page = PageNumber()


class ContainerOutSchema(BaseSchema):
    id = fields.Integer()
    code = fields.String()
    waste_code = fields.String()
    waste_name = fields.String()
    physical_form = fields.Function(lambda c: c.physical_form.value)
    hazards = fields.List(fields.String(), attribute="hazard_list")
    main_components = fields.String()
    harmful_components = fields.String()
    packaging_type = fields.Function(lambda c: c.packaging_type.value)
    net_weight_kg = fields.Decimal(as_string=True)
    generation_date = fields.Date()
    source_process = fields.String()
    status = fields.Function(lambda c: c.status.value)
    manifest_id = fields.Integer(allow_none=True)


class LedgerEntryOutSchema(BaseSchema):
    id = fields.Integer()
    waste_code = fields.String()
    kind = fields.Function(lambda e: e.kind.value)
    quantity_kg = fields.Decimal(as_string=True)
    occurred_on = fields.Date()
    container_code = fields.Function(lambda e: e.container.code if e.container else None)
    manifest_id = fields.Integer(allow_none=True)
    method_code = fields.String(allow_none=True)
    note = fields.String()


class MonthBalanceOutSchema(BaseSchema):
    waste_code = fields.String()
    opening_kg = fields.Decimal(as_string=True)
    generated_kg = fields.Decimal(as_string=True)
    shipped_kg = fields.Decimal(as_string=True)
    self_used_kg = fields.Decimal(as_string=True)
    closing_kg = fields.Decimal(as_string=True)


class SummaryArgsSchema(BaseSchema):
    """``year`` and ``month`` of a monthly summary; a missing one is the current month's."""

    year = fields.Integer(
        load_default=None,
        validate=validate.Range(min=2000, max=2100, error=N_("Give a year from 2000 to 2100.")),
    )
    month = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=12, error=N_("Give a month from 1 to 12.")),
    )
    format = fields.String(load_default=None, validate=one_of(["csv", "xlsx"]))
