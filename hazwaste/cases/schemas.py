"""Forms and API bodies of the case workflow."""

from __future__ import annotations

from marshmallow import fields

from hazwaste.reconciliation.models import CaseFinding
from hazwaste.schemas import BaseSchema, Id, length, one_of

ACTIONS = ("start", "close", "refer", "reopen")


class TransitionSchema(BaseSchema):
    action = fields.String(required=True, validate=one_of(ACTIONS))
    note = fields.String(load_default="", validate=length(max=4000))
    finding = fields.String(load_default=None, validate=one_of([f.value for f in CaseFinding]))
    referral_note = fields.String(load_default="", validate=length(max=4000))


class AssignmentSchema(BaseSchema):
    assignee_id = Id(load_default=None, allow_none=True)


class NoteSchema(BaseSchema):
    body = fields.String(load_default="", validate=length(max=4000))


class ResponseSchema(BaseSchema):
    body = fields.String(load_default="", validate=length(max=4000))
    attachments = fields.String(load_default="", validate=length(max=7000))


class NoteOutSchema(BaseSchema):
    id = fields.Integer()
    kind = fields.Function(lambda n: n.kind.value)
    body = fields.String()
    from_status = fields.Function(lambda n: n.from_status.value if n.from_status else None)
    to_status = fields.Function(lambda n: n.to_status.value if n.to_status else None)
    author_id = fields.Integer()
    author_name = fields.Function(lambda n: n.author.name)
    assignee_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class ResponseOutSchema(BaseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    organization_name = fields.Function(lambda r: r.organization.name)
    author_id = fields.Integer()
    body = fields.String()
    attachments = fields.Function(lambda r: [a for a in r.attachments.splitlines() if a])
    created_at = fields.DateTime()
