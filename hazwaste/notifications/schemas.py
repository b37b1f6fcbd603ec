"""Notification schemas: the inbox item, the preferences (in and out), the fan-out job."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from hazwaste.events.types import EVENT_TYPES
from hazwaste.schemas import N_, BaseSchema, length


class NotificationOutSchema(Schema):
    """An inbox item, worded in the request's language (dumped from
    :func:`hazwaste.notifications.services.presented`)."""

    id = fields.Integer()
    type = fields.String()
    type_name = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String()
    object = fields.Dict()
    occurred_at = fields.DateTime()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class ChannelsSchema(BaseSchema):
    inbox = fields.Boolean()
    email = fields.Boolean()


class PreferencesSchema(BaseSchema):
    """``types``: event type → channels; ``digest``: e-mail once a day; ``locale``: the
    language of e-mail."""

    types = fields.Dict(
        keys=fields.String(validate=length(max=64)),
        values=fields.Nested(ChannelsSchema),
        load_default=dict,
        validate=validate.Length(
            max=len(EVENT_TYPES), error=N_("More event types than there are.")
        ),
    )
    digest = fields.Boolean(load_default=None, allow_none=True)
    locale = fields.String(load_default=None, allow_none=True, validate=length(max=10))


class ChoiceOutSchema(Schema):
    type = fields.String(attribute="event_type")
    name = fields.Method("_name")
    inbox = fields.Boolean()
    email = fields.Boolean()

    def _name(self, choice: Any) -> str:
        return str(EVENT_TYPES.get(choice.event_type, choice.event_type))


class InboxQuerySchema(BaseSchema):
    unread = fields.Boolean(load_default=False)
    before = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, 2**31 - 1, error=N_("Not a valid id.")),
    )


class FanoutJobSchema(Schema):
    event = fields.Dict(required=True)
