"""Webhook schemas: endpoint input, endpoint/delivery output, the delivery job's payload."""

from __future__ import annotations

from marshmallow import Schema, fields

from hazwaste.schemas import BaseSchema


class EndpointSchema(BaseSchema):
    url = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)


class EndpointPatchSchema(BaseSchema):
    url = fields.String()
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    rotate_secret = fields.Boolean(load_default=False)


class EndpointOutSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    organization_id = fields.Integer(allow_none=True)
    regulator_body_id = fields.Integer(allow_none=True)
    disabled_at = fields.DateTime(allow_none=True)
    disabled_reason = fields.String()
    failing_since = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class EndpointWithSecretOutSchema(EndpointOutSchema):
    #: Only in the answer to a creation or a rotation: never shown again.
    secret = fields.String()


class DeliveryOutSchema(Schema):
    id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    attempts = fields.Integer()
    status = fields.String(attribute="status.value")
    last_response_code = fields.Integer(allow_none=True)
    last_error = fields.String()
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class DeliverJobSchema(Schema):
    delivery_id = fields.Integer(required=True, strict=True)
