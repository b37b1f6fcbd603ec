"""Small factories for organizations, users and regulator bodies, built through the services.

Everything goes through :mod:`hazwaste.accounts.services` (so audit entries are written and
the rules hold); nothing is committed here. USCCs are checksum-valid and unique per call.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwaste.accounts import services as accounts
from hazwaste.accounts.models import Organization, RegulatorBody, User, UserRole
from hazwaste.demo.services import demo_uscc

PASSWORD = "factory-pass-2026"  # test-only password
PASSWORD_MIN = 10
_serial = itertools.count(1)


def next_uscc(region_code: str = "150602") -> str:
    """A checksum-valid USCC that no other factory call (nor the demo world) has used."""
    # "T" + 8 digits: a valid organization-code part that the demo world never uses.
    return demo_uscc(region_code, f"T{next(_serial):08d}")


def platform_admin(session: Session, now: datetime, email: str | None = None) -> User:
    """A platform administrator (there is no service for this: it is made at installation)."""
    user = User(
        email=email or f"padmin{next(_serial)}@factory.test",
        name="Platform admin",
        password_hash=accounts.hash_password(PASSWORD),
        role=UserRole.ADMIN,
        is_platform_admin=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user


def registration_data(**overrides: Any) -> dict[str, Any]:
    """Valid input for ``register_organization`` (as ``RegistrationSchema`` would load it)."""
    n = next(_serial)
    region = overrides.get("region_code", "150602")
    data: dict[str, Any] = {
        "uscc": next_uscc(region),
        "org_name": f"测试单位{n}有限公司",
        "address": "内蒙古自治区鄂尔多斯市东胜区测试路1号",
        "region_code": region,
        "latitude": 39.8,
        "longitude": 109.9,
        "contact_phone": "",
        "name": f"测试员{n}",
        "email": f"user{n}@factory.test",
        "phone": "",
        "password": PASSWORD,
        "is_producer": True,
        "is_carrier": False,
        "is_receiver": False,
    }
    data.update(overrides)
    return data


def organization(
    session: Session,
    now: datetime,
    *,
    roles: tuple[str, ...] = ("producer",),
    approved_by: User | None = None,
    **overrides: Any,
) -> tuple[Organization, User]:
    """Register an organization with ``roles`` and its admin user.

    With ``approved_by`` (a platform admin) the organization is approved; otherwise it stays
    pending.
    """
    data = registration_data(
        **{f"is_{r}": r in roles for r in ("producer", "carrier", "receiver")}, **overrides
    )
    org, admin = accounts.register_organization(session, now, data, PASSWORD_MIN)
    if approved_by is not None:
        accounts.review_organization(session, now, approved_by, org.id, approve=True)
    return org, admin


def org_user(
    session: Session, now: datetime, admin: User, role: str = "member", **overrides: Any
) -> User:
    """A colleague created by the organization's admin."""
    n = next(_serial)
    data = {
        "name": f"同事{n}",
        "email": f"colleague{n}@factory.test",
        "phone": "",
        "password": PASSWORD,
        "role": role,
        **overrides,
    }
    return accounts.create_org_user(session, now, admin, data, PASSWORD_MIN)


def regulator(
    session: Session,
    now: datetime,
    admin: User,
    region_code: str = "150600",
    role: str = "inspector",
    body: RegulatorBody | None = None,
) -> tuple[RegulatorBody, User]:
    """A regulator body over ``region_code`` (unless ``body`` is given) and one of its staff."""
    n = next(_serial)
    if body is None:
        body = accounts.create_regulator_body(
            session, now, admin, {"name": f"测试生态环境局{n}", "region_code": region_code}
        )
    user = accounts.create_regulator_user(
        session,
        now,
        admin,
        body,
        {
            "name": f"监管员{n}",
            "email": f"inspector{n}@factory.test",
            "phone": "",
            "password": PASSWORD,
            "role": role,
        },
        PASSWORD_MIN,
    )
    return body, user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


# -- a second application on the test database ------------------------------------------------


@contextmanager
def other_app(
    database_url: str, defaults: tuple[str, ...] = (), **config: Any
) -> Iterator[tuple[Flask, Session]]:
    """An app built with ``test_config(database_url, **config)``, inside one transaction.

    ``defaults`` names settings of ``test_config`` to drop, so the application's own
    defaults (``hazwaste.config``) apply, e.g. the production cookie flags.

    For tests that need other settings than the session-wide ``app`` (CSRF on, rate limits
    on, production cookie flags, extra routes). As in the ``session`` fixture, every request
    and commit becomes a savepoint in a transaction that is rolled back at the end. Do not use
    it together with the ``session``/``client`` fixtures: on SQLite the two transactions
    would wait for each other's write lock.

    Flask-Limiter keeps ``enabled`` on its single extension object, so building an app with
    ``RATELIMIT_ENABLED=True`` would switch rate limiting on for every app in the process;
    the previous state is restored and the counters cleared on exit.
    """
    from hazwaste import create_app
    from hazwaste.extensions import db, limiter
    from tests.conftest import FreshGlobalsClient, test_config

    limiter_enabled = limiter.enabled
    settings = {
        key: value
        for key, value in test_config(database_url, **config).items()
        if key not in defaults
    }
    application = create_app(settings)
    application.test_client_class = FreshGlobalsClient
    try:
        with application.app_context():
            engines = db.engines
            engine = engines[None]
            connection = engine.connect()
            outer = connection.begin()
            engines[None] = connection  # type: ignore[assignment]
            db.session.remove()
            db.session.configure(join_transaction_mode="create_savepoint")
            if limiter.enabled:
                limiter.reset()
            try:
                yield application, db.session()
            finally:
                db.session.remove()
                engines[None] = engine
                outer.rollback()
                connection.close()
                engine.dispose()
    finally:
        if limiter.enabled:
            limiter.reset()
        limiter.enabled = limiter_enabled


def rule_url(application: Flask, rule: Any, ids: dict[str, Any]) -> str:
    """The URL of a ``url_map`` rule with each parameter taken from ``ids``, else 1.

    ``ids`` maps a parameter name (``"manifest_id"``), or ``"endpoint:name"`` for one route
    only, to a value. Route walkers use it so that new routes are covered without touching
    the tests; name a route's parameters in ``ids`` when an existing object makes the check
    stronger.
    """
    adapter = application.url_map.bind("localhost")
    values = {arg: ids.get(f"{rule.endpoint}:{arg}", ids.get(arg, 1)) for arg in rule.arguments}
    return str(adapter.build(rule.endpoint, values))


def demo_ids(session: Session, now: datetime) -> tuple[Any, dict[str, Any]]:
    """Seed the demo world plus one submitted manifest; return the world and, for each URL
    parameter name used by the routes, the id (or key) of an existing object."""
    from hazwaste.accounts.models import OrgStatus
    from hazwaste.demo.services import seed_demo
    from hazwaste.manifests.tokens import make_token
    from tests.manifest_factories import make_submitted

    demo = seed_demo(session, now)
    manifest = make_submitted(session, now, demo)
    session.commit()
    pending = session.scalars(
        select(Organization).where(Organization.status == OrgStatus.PENDING)
    ).one()
    assert manifest.number is not None
    ids = {
        "org_id": pending.id,
        "body_id": demo.bodies["city"].id,
        "user_id": demo.users["producer_staff"].id,
        "manifest_id": manifest.id,
        "licence_id": demo.extra["licence"].id,
        "vehicle_id": demo.extra["vehicles"][0].id,
        "code": "900-041-49",
        "token": make_token(manifest.id, manifest.number),
        "verb": "pickup",
        "api.show:key": manifest.number,  # a manifest by number (containers: by id, 1)
        "filename": "css/app.css",
    }
    return demo, ids
