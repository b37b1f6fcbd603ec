"""Who may see a manifest and who acts for which party. Pure predicates, no database writes.

Visibility: the producer's users see their drafts; once submitted, the users of the three
parties see it, and a regulator sees it when the producer, carrier or receiver lies inside
its jurisdiction. Nobody else learns that it exists (404).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select

from hazwaste.accounts.models import Organization, User, UserRole
from hazwaste.manifests.models import Manifest, ManifestStatus

OFFICE_ROLES = (UserRole.ADMIN, UserRole.MEMBER)
DRIVER_ROLES = (UserRole.DRIVER, UserRole.ADMIN)


def _in_org(user: User, org_id: int, roles: tuple[UserRole, ...]) -> bool:
    return (
        user.active
        and user.organization_id == org_id
        and user.organization is not None
        and user.organization.is_approved
        and user.role in roles
    )


def acts_for_producer(user: User, manifest: Manifest) -> bool:
    return _in_org(user, manifest.producer_id, OFFICE_ROLES)


def acts_as_driver(user: User, manifest: Manifest) -> bool:
    return _in_org(user, manifest.carrier_id, DRIVER_ROLES)


def acts_for_carrier(user: User, manifest: Manifest) -> bool:
    return _in_org(user, manifest.carrier_id, (*OFFICE_ROLES, UserRole.DRIVER))


def acts_for_receiver(user: User, manifest: Manifest) -> bool:
    return _in_org(user, manifest.receiver_id, OFFICE_ROLES)


def regulator_prefix(user: User) -> str | None:
    if user.regulator_body is None or not user.active:
        return None
    return user.regulator_body.jurisdiction_prefix


def can_view(user: User, manifest: Manifest) -> bool:
    if not user.is_authenticated:
        return False
    if manifest.status is ManifestStatus.DRAFT:
        return _in_org(user, manifest.producer_id, (*OFFICE_ROLES,))
    if any(
        _in_org(user, org_id, (*OFFICE_ROLES, UserRole.DRIVER)) for org_id in manifest.party_ids
    ):
        return True
    prefix = regulator_prefix(user)
    if prefix is not None:
        return any(
            org.region_code.startswith(prefix)
            for org in (manifest.producer, manifest.carrier, manifest.receiver)
        )
    return False


def visible_filter(user: User) -> ColumnElement[bool]:
    """SQL condition selecting exactly the manifests :func:`can_view` allows."""
    if not user.active:
        return false()
    if user.organization_id is not None and user.org_approved:
        org_id = user.organization_id
        own_drafts = and_(Manifest.status == ManifestStatus.DRAFT, Manifest.producer_id == org_id)
        if user.role is UserRole.DRIVER:
            own_drafts = false()
        party = and_(
            Manifest.status != ManifestStatus.DRAFT,
            or_(
                Manifest.producer_id == org_id,
                Manifest.carrier_id == org_id,
                Manifest.receiver_id == org_id,
            ),
        )
        return or_(own_drafts, party)
    prefix = regulator_prefix(user)
    if prefix is not None:
        in_region = select(Organization.id).where(Organization.region_code.startswith(prefix))
        return and_(
            Manifest.status != ManifestStatus.DRAFT,
            or_(
                Manifest.producer_id.in_(in_region),
                Manifest.carrier_id.in_(in_region),
                Manifest.receiver_id.in_(in_region),
            ),
        )
    return false()
