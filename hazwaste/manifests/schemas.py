"""Manifest schemas: the same loading rules for web forms and the JSON API."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from hazwaste.catalog.models import HAZARD_CODES
from hazwaste.manifests.models import LineDecision, PhysicalForm
from hazwaste.schemas import (
    N_,
    PRECISION_MESSAGE,
    UNITS,
    Amount,
    BaseSchema,
    BoundedList,
    Id,
    PageNumber,
    Weight,
    length,
    one_of,
    to_kg,
)

WASTE_CODE = validate.Regexp(
    r"^\d{3}-\d{3}-\d{2}$", error=N_("A waste code looks like 900-041-49.")
)
POSITION_NOTES = ("denied", "unavailable", "timeout", "not_requested", "unsupported")
#: Lines of one manifest (typed and from containers alike; each hand-off lists them again).
MAX_LINES = 50
#: Containers on one manifest, and codes scanned at pickup or at the gate.
MAX_CONTAINERS = 1000
_TOO_MANY_LINES = N_("At most {max} lines.")


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    return [value]


class LineSchema(BaseSchema):
    waste_code = fields.String(required=True, validate=WASTE_CODE)
    waste_name = fields.String(load_default="", validate=length(max=200))
    physical_form = fields.String(required=True, validate=one_of([f.value for f in PhysicalForm]))
    hazards = BoundedList(
        fields.String(validate=one_of(HAZARD_CODES)),
        load_default=list,
        max_items=len(HAZARD_CODES),
    )
    packaging = fields.String(required=True, validate=length(1, 100))
    container_count = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=100000, error=N_("Between 0 and 100000.")),
    )
    declared_qty = Amount(required=True)
    declared_unit = fields.String(load_default="kg", validate=one_of(UNITS))

    @pre_load
    def _lists(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "hazards" in data:
            data = {**data, "hazards": _as_list(data["hazards"])}
        return data

    @post_load
    def _kg(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        kg = to_kg(data["declared_qty"], data["declared_unit"])
        if kg is None:
            raise ValidationError({"declared_qty": [PRECISION_MESSAGE]})
        data["declared_kg"] = kg
        return data


class ManifestDraftSchema(BaseSchema):
    """A draft: parties, vehicle, driver, planned date, emergency measures, lines."""

    carrier_id = Id(required=True)
    receiver_id = Id(required=True)
    vehicle_id = Id(load_default=None, allow_none=True)
    driver_id = Id(load_default=None, allow_none=True)
    planned_date = fields.Date(required=True)
    emergency_measures = fields.String(load_default="", validate=length(max=4000))
    # Lines typed by hand; containers chosen from the store add their own lines.
    lines = BoundedList(
        fields.Nested(LineSchema),
        load_default=list,
        max_items=MAX_LINES,
        too_long=_TOO_MANY_LINES,
    )
    container_ids = BoundedList(Id(), load_default=list, max_items=MAX_CONTAINERS)


class PositionMixin(BaseSchema):
    latitude = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(-90, 90, error=N_("Invalid latitude.")),
    )
    longitude = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(-180, 180, error=N_("Invalid longitude.")),
    )
    accuracy_m = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(0, 100000, error=N_("Invalid accuracy.")),
    )
    position_note = fields.String(load_default="", validate=one_of(("", *POSITION_NOTES)))
    note = fields.String(load_default="", validate=length(max=1000))

    @validates_schema
    def _both_or_none(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError(N_("Give both latitude and longitude, or neither."), "latitude")

    @post_load
    def _note_missing_position(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("latitude") is None and not data.get("position_note"):
            data["position_note"] = "unavailable"
        if data.get("latitude") is not None:
            data["position_note"] = ""
        return data


class PickupLineSchema(BaseSchema):
    line_id = Id(required=True)
    loaded_qty = Amount(required=True)


def _codes(value: Any) -> Any:
    """Scanned container codes: a JSON list, or one per line / separated by spaces."""
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    return value


class PickupSchema(PositionMixin):
    vehicle_id = Id(required=True)
    unit = fields.String(load_default="kg", validate=one_of(UNITS))
    lines = BoundedList(
        fields.Nested(PickupLineSchema),
        required=True,
        max_items=MAX_LINES,
        too_long=_TOO_MANY_LINES,
    )
    # The loading check: every container on the manifest scanned, none other (令23号 Art. 13).
    container_codes = BoundedList(
        fields.String(validate=length(max=60)), load_default=list, max_items=MAX_CONTAINERS
    )

    @pre_load
    def _scanned(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "container_codes" in data:
            data = {**data, "container_codes": _codes(data["container_codes"])}
        return data

    @post_load
    def _kg(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        errors: dict[int, Any] = {}
        for index, line in enumerate(data["lines"]):
            kg = to_kg(line["loaded_qty"], data["unit"])
            if kg is None:
                errors[index] = {"loaded_qty": [PRECISION_MESSAGE]}
            line["loaded_kg"] = kg
        if errors:
            raise ValidationError({"lines": errors})
        return data


class DeliverySchema(PositionMixin):
    pass


class ReceiptLineSchema(BaseSchema):
    line_id = Id(required=True)
    received_qty = Amount(required=True, positive=False)
    decision = fields.String(required=True, validate=one_of([d.value for d in LineDecision]))
    rejected_qty = Amount(load_default=None, allow_none=True)
    rejection_reason = fields.String(load_default="", validate=length(max=1000))


class ReceiptSchema(PositionMixin):
    unit = fields.String(load_default="kg", validate=one_of(UNITS))
    lines = BoundedList(
        fields.Nested(ReceiptLineSchema),
        required=True,
        max_items=MAX_LINES,
        too_long=_TOO_MANY_LINES,
    )
    confirm = fields.Boolean(load_default=True)
    # Containers scanned at the gate; absent (None) when the receiver did not scan.
    container_codes = BoundedList(
        fields.String(validate=length(max=60)),
        load_default=None,
        allow_none=True,
        max_items=MAX_CONTAINERS,
    )

    @pre_load
    def _scanned(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "container_codes" in data:
            data = {**data, "container_codes": _codes(data["container_codes"])}
        return data

    @post_load
    def _kg(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        errors: dict[int, Any] = {}
        for index, line in enumerate(data["lines"]):
            line["received_kg"] = to_kg(line["received_qty"], data["unit"])
            if line["received_kg"] is None:
                errors[index] = {"received_qty": [PRECISION_MESSAGE]}
            line["rejected_kg"] = (
                None
                if line.get("rejected_qty") is None
                else to_kg(line["rejected_qty"], data["unit"])
            )
            if line.get("rejected_qty") is not None and line["rejected_kg"] is None:
                errors.setdefault(index, {})["rejected_qty"] = [PRECISION_MESSAGE]
        if errors:
            raise ValidationError({"lines": errors})
        return data


class DisposalLineSchema(BaseSchema):
    line_id = Id(required=True)
    method = fields.String(required=True, validate=length(1, 8))
    disposed_kg = Weight(required=True)
    disposal_date = fields.Date(required=True)


class DisposalSchema(BaseSchema):
    lines = BoundedList(
        fields.Nested(DisposalLineSchema),
        required=True,
        max_items=MAX_LINES,
        too_long=_TOO_MANY_LINES,
    )
    note = fields.String(load_default="", validate=length(max=1000))


class CancelSchema(BaseSchema):
    reason = fields.String(required=True, validate=length(1, 1000))


class CorrectionLineSchema(BaseSchema):
    line_id = Id(required=True)
    waste_name = fields.String(validate=length(1, 200))
    packaging = fields.String(validate=length(1, 100))
    container_count = fields.Integer(
        validate=validate.Range(min=0, max=100000, error=N_("Between 0 and 100000."))
    )
    declared_kg = Weight()


class CorrectionSchema(BaseSchema):
    reason = fields.String(required=True, validate=length(1, 1000))
    planned_date = fields.Date()
    vehicle_id = Id()
    driver_id = Id()
    emergency_measures = fields.String(validate=length(1, 4000))
    lines = BoundedList(
        fields.Nested(CorrectionLineSchema),
        load_default=list,
        max_items=MAX_LINES,
        too_long=_TOO_MANY_LINES,
    )


class ListArgsSchema(BaseSchema):
    status = fields.String(
        load_default=None,
        validate=one_of(
            [
                "draft",
                "submitted",
                "in_transit",
                "delivered",
                "received",
                "completed",
                "cancelled",
                "rejected",
            ]
        ),
    )
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)
    counterpart_id = Id(load_default=None)
    waste_code = fields.String(load_default=None, validate=WASTE_CODE)
    q = fields.String(load_default=None, validate=length(max=14))
    page = PageNumber()
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1, max=200))


# -- output --------------------------------------------------------------------------------


class PartySchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    uscc = fields.String()
    region_code = fields.String()


class LineOutSchema(BaseSchema):
    id = fields.Integer()
    line_no = fields.Integer()
    waste_code = fields.String()
    waste_name = fields.String()
    physical_form = fields.Function(lambda ln: ln.physical_form.value)
    hazards = fields.List(fields.String(), attribute="hazard_list")
    packaging = fields.String()
    container_count = fields.Integer()
    declared_kg = fields.Decimal(as_string=True)
    loaded_kg = fields.Decimal(as_string=True, allow_none=True)
    received_kg = fields.Decimal(as_string=True, allow_none=True)
    discrepancy_kg = fields.Decimal(as_string=True, allow_none=True)
    discrepancy_pct = fields.Decimal(as_string=True, allow_none=True)
    decision = fields.Function(lambda ln: ln.decision.value if ln.decision else None)
    accepted_kg = fields.Decimal(as_string=True, allow_none=True)
    rejected_kg = fields.Decimal(as_string=True, allow_none=True)
    rejection_reason = fields.String()
    disposed_kg = fields.Decimal(as_string=True, allow_none=True)
    disposal_method = fields.String(allow_none=True)
    disposal_date = fields.Date(allow_none=True)


class ManifestOutSchema(BaseSchema):
    id = fields.Integer()
    number = fields.String(allow_none=True)
    status = fields.Function(lambda m: m.status.value)
    version = fields.Integer()
    producer = fields.Nested(PartySchema)
    carrier = fields.Nested(PartySchema)
    receiver = fields.Nested(PartySchema)
    vehicle_plate = fields.Function(lambda m: m.vehicle.plate if m.vehicle else None)
    driver_name = fields.Function(lambda m: m.driver.user.name if m.driver else None)
    vehicle_id = fields.Integer(allow_none=True)
    driver_id = fields.Integer(allow_none=True)
    planned_date = fields.Date()
    emergency_measures = fields.String()
    catalog_edition = fields.String()
    declared_total_kg = fields.Decimal(as_string=True)
    created_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    picked_up_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    receipt_due_date = fields.Date(allow_none=True)
    #: The due date was computed partly from the estimated calendar of a year whose
    #: official holiday schedule is not known yet (hazwaste.workdays).
    receipt_due_provisional = fields.Function(
        lambda m: m.receipt_due_date is not None and not m.receipt_due_exact
    )
    received_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String()
    lines = fields.List(fields.Nested(LineOutSchema))


class EventOutSchema(BaseSchema):
    id = fields.Integer()
    kind = fields.Function(lambda e: e.kind.value)
    occurred_at = fields.DateTime()
    actor = fields.Function(lambda e: e.actor.name)
    actor_organization = fields.Function(lambda e: e.actor_org.name if e.actor_org else None)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)
    position_note = fields.String()
    vehicle_plate = fields.Function(lambda e: e.vehicle.plate if e.vehicle else None)
    note = fields.String()
    total_kg = fields.Decimal(as_string=True, allow_none=True)
    payload = fields.Function(lambda e: json.loads(e.payload))
    corrects_event_id = fields.Integer(allow_none=True)
