"""The enterprise's side of a case: answering a flag with an explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import User
from hazwaste.audit import services as audit
from hazwaste.cases.models import FlagResponse
from hazwaste.errors import Forbidden, Invalid
from hazwaste.reconciliation.models import Flag

BODY_MAX = 4000
ATTACHMENTS_MAX = 20


def can_respond(user: User, flag: Flag) -> bool:
    """Members of an approved organization that is the flag's producer, carrier or receiver."""
    org = user.organization_id
    return (
        org is not None
        and user.active
        and user.org_approved
        and org in (flag.producer_id, flag.carrier_id, flag.receiver_id)
    )


def respond(
    session: Session, now: datetime, user: User, flag: Flag, data: dict[str, Any]
) -> FlagResponse:
    """Store the enterprise's explanation (``body``, required) and its attachments'
    descriptions (``attachments``: text, one per line, optional).

    Forbidden for anyone outside the organizations concerned (regulators included);
    Invalid with field messages for an empty explanation or too many attachment lines.
    """
    if not can_respond(user, flag):
        raise Forbidden(_("Only the enterprise concerned can answer this flag."))
    errors: dict[str, list[str]] = {}
    body = (data.get("body") or "").strip()
    if not body:
        errors["body"] = [_("Write your explanation.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("At most %(num)s characters.", num=BODY_MAX)]
    lines = [ln.strip() for ln in (data.get("attachments") or "").splitlines() if ln.strip()]
    if len(lines) > ATTACHMENTS_MAX:
        errors["attachments"] = [_("At most %(num)s attachments.", num=ATTACHMENTS_MAX)]
    elif any(len(ln) > 300 for ln in lines):
        errors["attachments"] = [_("Each description has at most 300 characters.")]
    if errors:
        raise Invalid(_("The explanation was not sent."), fields=errors)
    assert user.organization_id is not None  # can_respond
    response = FlagResponse(
        flag_id=flag.id,
        organization_id=user.organization_id,
        author_id=user.id,
        body=body,
        attachments="\n".join(lines),
        created_at=now,
    )
    session.add(response)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="case.response",
        object_type="flag",
        object_id=flag.id,
        payload={"response_id": response.id, "attachments": len(lines)},
    )
    return response


def responses(session: Session, flag: Flag) -> list[FlagResponse]:
    return list(
        session.scalars(
            select(FlagResponse)
            .where(FlagResponse.flag_id == flag.id)
            .order_by(FlagResponse.created_at, FlagResponse.id)
        )
    )
