"""The regulator's jurisdiction: which organizations an oversight page or endpoint may show.

Everything under /oversight/ belongs to regulator users; their scope is every organization
whose region code starts with their body's jurisdiction prefix. A region filter must lie
inside that scope (a longer prefix of it), otherwise it is refused with a field message.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization, User
from hazwaste.errors import Forbidden, Invalid, NotFound


def prefix_of(user: User) -> str:
    """The user's jurisdiction prefix; :class:`Forbidden` for anyone but an active regulator."""
    if not user.active or user.regulator_body is None:
        raise Forbidden()
    return user.regulator_body.jurisdiction_prefix


def is_regulator(user: User) -> bool:
    return bool(user.is_authenticated and user.active and user.regulator_body is not None)


def region_prefix(user: User, region: str | None, field: str = "region") -> str:
    """The effective region prefix: ``region`` if it lies inside the jurisdiction, else the
    jurisdiction itself when ``region`` is empty. :class:`Invalid` for a region outside."""
    prefix = prefix_of(user)
    if not region:
        return prefix
    if not region.startswith(prefix):
        msg = _("Choose a region inside your jurisdiction (%(prefix)s…).", prefix=prefix)
        raise Invalid(msg, {field: [msg]})
    return region


def org_in(prefix: str) -> ColumnElement[bool]:
    return Organization.region_code.startswith(prefix)


def enterprise(session: Session, user: User, org_id: int) -> Organization:
    """An organization inside the user's jurisdiction; :class:`NotFound` otherwise."""
    prefix = prefix_of(user)
    org = session.scalar(select(Organization).where(Organization.id == org_id, org_in(prefix)))
    if org is None:
        raise NotFound()
    return org


def enterprises(session: Session, user: User) -> list[Organization]:
    """Every organization in the jurisdiction, by name (for filter menus)."""
    prefix = prefix_of(user)
    return list(
        session.scalars(select(Organization).where(org_in(prefix)).order_by(Organization.name))
    )


def balance_filters(session: Session, user: User, args: dict[str, Any]) -> Any:
    """:class:`~hazwaste.oversight.balances.BalanceFilters` from loaded
    ``BalanceFilterSchema`` arguments, shared by the page and the API. :class:`Invalid` with
    a field message when the region or the enterprise lies outside the jurisdiction."""
    from hazwaste.oversight.balances import BalanceFilters

    prefix = region_prefix(user, args["region"])
    if args["organization_id"]:
        try:
            enterprise(session, user, args["organization_id"])
        except NotFound as exc:
            msg = _("Choose an enterprise inside your jurisdiction.")
            raise Invalid(msg, {"organization_id": [msg]}) from exc
    return BalanceFilters(
        prefix=prefix,
        organization_id=args["organization_id"],
        waste_code=args["waste_code"],
        month_from=args["month_from"],
        month_to=args["month_to"],
        group=args["group"],
    )
