"""Flag filters and output."""

from __future__ import annotations

import json
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from hazwaste.errors import INT_MAX
from hazwaste.reconciliation.models import CaseStatus, FlagStatus, Severity
from hazwaste.reconciliation.queries import SORTS
from hazwaste.reconciliation.rules import REGISTRY
from hazwaste.schemas import N_, BaseSchema, Id, PageNumber, length, one_of


def _tonnage(value: Decimal) -> None:
    # A plain function rather than validate.Range: the OpenAPI document would otherwise
    # carry the bounds as quantized strings, which is not a valid schema.
    if not Decimal(0) <= value <= Decimal(1000000):
        raise ValidationError(N_("A tonnage of 0 or more."))


ASSIGNEE_MESSAGE = N_("Choose an inspector, mine or unassigned.")


def _assignee_in_range(value: str) -> None:
    # A user id must fit the id columns (PostgreSQL: "integer out of range" otherwise).
    if value.isascii() and value.isdigit() and int(value) > INT_MAX:
        raise ValidationError(ASSIGNEE_MESSAGE)


class FlagFilterSchema(BaseSchema):
    rule = fields.String(load_default=None, validate=one_of(sorted(REGISTRY)))
    severity = fields.String(load_default=None, validate=one_of([s.value for s in Severity]))
    status = fields.String(load_default=None, validate=one_of([s.value for s in FlagStatus]))
    region = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{2,6}$", error=N_("A region code prefix has 2 to 6 digits.")),
    )
    period = fields.String(load_default=None, validate=length(max=60))
    organization_id = Id(load_default=None)
    case_status = fields.String(load_default=None, validate=one_of([s.value for s in CaseStatus]))
    assignee = fields.String(
        load_default=None,
        validate=[
            validate.Regexp(r"^(mine|none|[0-9]{1,10})$", error=ASSIGNEE_MESSAGE),
            _assignee_in_range,
        ],
    )
    age_days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=3650, error=N_("Between 0 and 3650 days.")),
    )
    min_tonnes = fields.Decimal(load_default=None, places=3, validate=_tonnage)
    sort = fields.String(load_default=None, validate=one_of(list(SORTS)))
    page = PageNumber()
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1, max=200))


class FlagOutSchema(BaseSchema):
    id = fields.Integer()
    rule = fields.String()
    subject_type = fields.String()
    subject_id = fields.Integer()
    period = fields.String()
    severity = fields.Function(lambda f: f.severity.value)
    status = fields.Function(lambda f: f.status.value)
    case_status = fields.Function(lambda f: f.case_status.value)
    quantity_kg = fields.Decimal(as_string=True, allow_none=True)
    summary = fields.String()
    evidence = fields.Function(lambda f: json.loads(f.evidence or "{}"))
    producer_id = fields.Integer(allow_none=True)
    carrier_id = fields.Integer(allow_none=True)
    receiver_id = fields.Integer(allow_none=True)
    manifest_id = fields.Integer(allow_none=True)
    first_seen_at = fields.DateTime()
    last_seen_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    case_finding = fields.Function(lambda f: f.case_finding.value if f.case_finding else None)
    assignee_id = fields.Integer(allow_none=True)
    case_changed_at = fields.DateTime(allow_none=True)
