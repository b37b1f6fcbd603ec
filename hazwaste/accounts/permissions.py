"""Who may see or do what: decorators for pages, predicates for services and the API.

Anonymous visitors of a page are sent to the login page (and back afterwards); logged-in
users without the right get 403. The API uses the same predicates with bearer tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask_login import current_user

from hazwaste.accounts.models import User, UserRole
from hazwaste.errors import Forbidden
from hazwaste.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])

ENTERPRISE_ROLES = ("producer", "carrier", "receiver")


def enterprise_user_ok(
    user: User, roles: tuple[str, ...] = (), user_roles: tuple[UserRole, ...] = ()
) -> bool:
    """True if ``user`` works for an approved organization holding one of ``roles``."""
    org = user.organization
    if org is None or not org.is_approved or not user.active:
        return False
    if roles and not any(role in org.roles for role in roles):
        return False
    return not user_roles or user.role in user_roles


def _guard(check: Callable[[User], bool]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not check(current_user):
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def login_required(view: F) -> F:
    return _guard(lambda user: True)(view)


def enterprise_required(*roles: str, user_roles: tuple[UserRole, ...] = ()) -> Callable[[F], F]:
    """Page guard: an approved organization with one of ``roles`` (any if none given)."""
    return _guard(lambda user: enterprise_user_ok(user, roles, user_roles))


def org_admin_required(view: F) -> F:
    return _guard(lambda user: enterprise_user_ok(user, (), (UserRole.ADMIN,)))(view)


def platform_admin_required(view: F) -> F:
    return _guard(lambda user: user.is_platform_admin)(view)


def regulator_required(view: F) -> F:
    return _guard(lambda user: user.is_regulator and user.active)(view)
