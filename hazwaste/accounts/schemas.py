"""Input and output schemas for accounts, shared by pages and the API."""

from __future__ import annotations

from marshmallow import fields, validate

from hazwaste.accounts.models import ORG_ROLES, REGULATOR_ROLES
from hazwaste.schemas import N_, BaseSchema, BoundedList, length, one_of

REGION_CODE = validate.Regexp(r"^\d{6}$", error=N_("A region code has 6 digits."))
LATITUDE = validate.Range(min=-90, max=90, error=N_("Latitude is between -90 and 90."))
LONGITUDE = validate.Range(min=-180, max=180, error=N_("Longitude is between -180 and 180."))


class LoginSchema(BaseSchema):
    email = fields.String(required=True, validate=length(max=254))
    password = fields.String(required=True, validate=length(max=200))
    next = fields.String(load_default=None)


class OrganizationFieldsSchema(BaseSchema):
    org_name = fields.String(required=True, data_key="org_name", validate=length(2, 200))
    address = fields.String(required=True, validate=length(2, 300))
    region_code = fields.String(required=True, validate=REGION_CODE)
    latitude = fields.Float(load_default=None, validate=LATITUDE, allow_nan=False)
    longitude = fields.Float(load_default=None, validate=LONGITUDE, allow_nan=False)
    contact_phone = fields.String(load_default="", validate=length(max=40))


class RegistrationSchema(OrganizationFieldsSchema):
    uscc = fields.String(required=True, validate=length(max=40))
    is_producer = fields.Boolean(load_default=False)
    is_carrier = fields.Boolean(load_default=False)
    is_receiver = fields.Boolean(load_default=False)
    name = fields.String(required=True, validate=length(1, 100))
    email = fields.Email(required=True, validate=length(max=254))
    phone = fields.String(load_default="", validate=length(max=40))
    password = fields.String(required=True, validate=length(max=200))


class OrganizationUpdateSchema(BaseSchema):
    name = fields.String(required=True, validate=length(2, 200))
    address = fields.String(required=True, validate=length(2, 300))
    region_code = fields.String(required=True, validate=REGION_CODE)
    latitude = fields.Float(load_default=None, validate=LATITUDE, allow_nan=False)
    longitude = fields.Float(load_default=None, validate=LONGITUDE, allow_nan=False)
    contact_phone = fields.String(load_default="", validate=length(max=40))


class PasswordChangeSchema(BaseSchema):
    current_password = fields.String(required=True)
    new_password = fields.String(required=True, validate=length(max=200))


class ResetRequestSchema(BaseSchema):
    email = fields.Email(required=True, validate=length(max=254))


class ResetConfirmSchema(BaseSchema):
    new_password = fields.String(required=True, validate=length(max=200))


class ResetConfirmApiSchema(BaseSchema):
    token = fields.String(required=True, validate=length(1, 400))
    new_password = fields.String(required=True, validate=length(max=200))


class VerifyEmailConfirmSchema(BaseSchema):
    token = fields.String(required=True, validate=length(1, 400))


class UserCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=length(1, 100))
    email = fields.Email(required=True, validate=length(max=254))
    phone = fields.String(load_default="", validate=length(max=40))
    password = fields.String(required=True, validate=length(max=200))
    role = fields.String(required=True, validate=one_of([r.value for r in ORG_ROLES]))


class RegulatorUserCreateSchema(UserCreateSchema):
    role = fields.String(required=True, validate=one_of([r.value for r in REGULATOR_ROLES]))


class RegulatorBodySchema(BaseSchema):
    name = fields.String(required=True, validate=length(2, 200))
    region_code = fields.String(required=True, validate=REGION_CODE)


class ReviewSchema(BaseSchema):
    decision = fields.String(required=True, validate=one_of(["approve", "reject"]))
    note = fields.String(load_default="", validate=length(max=1000))


class TokenRequestSchema(BaseSchema):
    email = fields.String(required=True, validate=length(max=254))
    password = fields.String(required=True, validate=length(max=200))


# -- output ------------------------------------------------------------------------------------


class OrganizationOutSchema(BaseSchema):
    id = fields.Integer()
    uscc = fields.String()
    name = fields.String()
    address = fields.String()
    region_code = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    roles = fields.List(fields.String())
    status = fields.Function(lambda org: org.status.value)


class TokenOutSchema(BaseSchema):
    token = fields.String()
    token_type = fields.String()
    expires_at = fields.DateTime()


class NamedTokenSchema(BaseSchema):
    """A named token asked for on /account or through the API."""

    name = fields.String(required=True, validate=length(max=100))
    scopes = BoundedList(fields.String(validate=length(max=40)), required=True, max_items=50)
    expires_in_days = fields.Integer(
        required=True, strict=False, validate=validate.Range(0, 100000)
    )


class NamedTokenOutSchema(BaseSchema):
    token = fields.String()
    token_type = fields.String()
    expires_at = fields.DateTime()
    name = fields.String()
    scopes = fields.List(fields.String())


class TokenInfoSchema(BaseSchema):
    """A token as listed to its owner: never the secret (only its hash is stored anyway).

    ``current`` is true for the token that authenticated the request; dump a mapping that
    has it (see ``hazwaste.api.routes.tokens``).
    """

    id = fields.Integer()
    name = fields.String()
    scopes = fields.List(fields.String())
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    current = fields.Boolean()
