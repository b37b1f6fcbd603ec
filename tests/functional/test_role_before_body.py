"""A refused caller is told so (403) whatever the request body holds: every endpoint that
changes something checks the role or party before it validates the body or the state.

Walks every POST/PATCH/PUT/DELETE route of ``app.url_map``; each must be listed below with
demo accounts that may not use it (or be exempt, with the reason), so a new route is
covered the day it is added.
"""

from __future__ import annotations

from typing import Any

import pytest

from hazwaste.db import utcnow
from tests import factories
from tests.conftest import api_token, login
from tests.unit.cases.helpers import make_flag

WRITES = {"POST", "PATCH", "PUT", "DELETE"}
#: Open to anyone, or to every logged-in user for their own account.
EXEMPT = {
    "api.token": "logging in",
    "api.password_reset": "a lost password (anyone)",
    "api.password_reset_confirm": "a lost password (the link's token is the credential)",
    "accounts.reset_request": "a lost password (anyone)",
    "accounts.reset_confirm": "a lost password (the link's token is the credential)",
    "api.verify_email_confirm": "a verification link (its token is the credential)",
    "accounts.verify_email": "a verification link (its token is the credential)",
    "api.send_verification": "one's own e-mail address",
    "accounts.send_verification": "one's own e-mail address",
    "accounts.login": "logging in",
    "accounts.register": "registering",
    "accounts.logout": "logging out",
    "accounts.password": "everyone changes their own password",
    # Each user's own sessions and API tokens (another user's id is a 404):
    "accounts.end_session": "one's own session",
    "accounts.end_other_sessions": "one's own sessions",
    "accounts.end_all_sessions": "one's own sessions",
    "accounts.revoke_token": "one's own API token",
    "accounts.create_token": "one's own API token",
    "api.create_token": "one's own API token (never wider than the token asking)",
    "api.revoke_this_token": "the token in use",
    "api.revoke_token": "one's own API token",
    # Each user's own notifications and notification settings (another user's id is a 404):
    "api.read_notification": "one's own notification",
    "api.read_all_notifications": "one's own notifications",
    "api.update_notification_preferences": "one's own notification settings",
    "notifications.read": "one's own notification",
    "notifications.read_all": "one's own notifications",
    "notifications.preferences": "one's own notification settings",
}
ENTERPRISE_STAFF = ["carrier", "regulator"]  # refused where the producer acts
PRODUCER_OR_REGULATOR = ["producer", "regulator"]
ENTERPRISES = ["producer", "carrier"]  # refused where the regulator acts
#: Endpoint → demo accounts (``<name>@demo.test``) that may not use it.
REFUSED: dict[str, list[str]] = {
    "accounts.admin_regulator_users": ["producer", "regulator"],
    "accounts.admin_regulators": ["producer", "regulator"],
    # Holiday schedules: platform administrators only.
    "holidays.upload": ["producer", "regulator"],
    "api.load_holiday_year": ["producer", "regulator"],
    "catalog.editions_import": ["producer", "regulator"],
    "api.import_catalog_edition": ["producer", "regulator"],
    "accounts.admin_review": ["producer", "regulator"],
    "accounts.org_users": ["producer-staff", "driver", "regulator"],
    "accounts.organization": ["producer-staff", "driver", "regulator"],
    "accounts.org_user_active": ["producer-staff", "driver", "regulator"],
    "api.add_flag_note": ["producer"],
    "api.add_flag_response": ["regulator"],
    "api.add_ledger_entry": ENTERPRISE_STAFF,
    "api.cancel_manifest": ENTERPRISE_STAFF,
    "api.correct_manifest": ENTERPRISE_STAFF,
    "api.create_carrier_permit": PRODUCER_OR_REGULATOR,
    "api.create_container": ENTERPRISE_STAFF,
    "api.create_containers_bulk": ENTERPRISE_STAFF,
    "api.create_driver": PRODUCER_OR_REGULATOR,
    "api.create_licence": PRODUCER_OR_REGULATOR,
    "api.create_manifest": ENTERPRISE_STAFF,
    "api.create_vehicle": PRODUCER_OR_REGULATOR,
    "api.delete_plan": ENTERPRISE_STAFF,
    # Webhooks: administrators of an organization or a regulator body only.
    "api.create_webhook": ["producer-staff", "driver"],
    "api.update_webhook": ["producer-staff", "driver"],
    "api.delete_webhook": ["producer-staff", "driver"],
    "api.replay": ["producer-staff", "driver"],
    "webhooks.index": ["producer-staff", "driver"],
    "webhooks.rotate": ["producer-staff", "driver"],
    "webhooks.active": ["producer-staff", "driver"],
    "webhooks.delete": ["producer-staff", "driver"],
    "webhooks.replay": ["producer-staff", "driver"],
    "api.deliver_manifest": PRODUCER_OR_REGULATOR,
    "api.dispose_manifest": ENTERPRISES,
    "api.draw_create": ENTERPRISES,
    "api.flag_assignment": ["producer"],
    "api.flag_transition": ["producer"],
    "api.import_plans": ENTERPRISE_STAFF,
    "api.patch_manifest": ENTERPRISE_STAFF,
    "api.pickup_manifest": ["producer", "receiver", "regulator"],
    "api.receive_manifest": ENTERPRISES,
    "api.revoke_licence": PRODUCER_OR_REGULATOR,
    "api.save_plan": ENTERPRISE_STAFF,
    "api.self_disposal": ENTERPRISE_STAFF,
    "api.submit_manifest": ENTERPRISE_STAFF,
    "api.vehicle_active": PRODUCER_OR_REGULATOR,
    "cases.assignment": ENTERPRISES,
    "cases.note": ENTERPRISES,
    "cases.transition": ENTERPRISES,
    "flags.respond": ["regulator"],
    "jobs.retry": ["producer", "regulator"],
    "ledger.add_entry": ENTERPRISE_STAFF,
    "ledger.import_containers": ENTERPRISE_STAFF,
    "ledger.new_container": ENTERPRISE_STAFF,
    "ledger.self_dispose": ENTERPRISE_STAFF,
    "manifests.cancel": ENTERPRISE_STAFF,
    "manifests.correct": ENTERPRISE_STAFF,
    "manifests.edit": ENTERPRISE_STAFF,
    "manifests.new": ENTERPRISE_STAFF,
    "manifests.submit": ENTERPRISE_STAFF,
    "oversight.draw": ENTERPRISES,
    "permits.carrier_permits": PRODUCER_OR_REGULATOR,
    "permits.drivers": PRODUCER_OR_REGULATOR,
    "permits.licences": PRODUCER_OR_REGULATOR,
    "permits.revoke": PRODUCER_OR_REGULATOR,
    "permits.vehicle_active": PRODUCER_OR_REGULATOR,
    "permits.vehicles": PRODUCER_OR_REGULATOR,
    "plans.delete": ENTERPRISE_STAFF,
    "plans.edit": ENTERPRISE_STAFF,
    "plans.import_plans": ENTERPRISE_STAFF,
    "plans.new": ENTERPRISE_STAFF,
    "scan.act": [],  # per verb, below
}
#: The scan page's verbs and who may not perform them.
SCAN_REFUSED = {
    "pickup": ["producer", "receiver", "regulator"],
    "deliver": PRODUCER_OR_REGULATOR,
    "receive": ["producer", "carrier", "driver", "regulator"],
    "dispose": ["producer", "carrier", "driver", "regulator"],
}
#: Bodies no endpoint accepts: missing fields, wrong types, not JSON at all.
API_BODIES: list[dict[str, Any]] = [
    {"json": {}},
    {"json": {"lines": "x", "reason": 5, "n": "x", "action": 1, "body": None}},
    {"data": b"not json", "content_type": "application/json"},
]
FORM_BODIES: list[dict[str, str]] = [
    {},
    {"lines-0-loaded_qty": "x", "reason": "", "n": "x", "action": "nope", "confirm": "1"},
]


def write_rules(app: Any) -> list[Any]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.methods & WRITES),
        key=lambda r: (r.rule, r.endpoint),
    )


def test_every_write_endpoint_is_classified(app):
    endpoints = {r.endpoint for r in write_rules(app)}
    unclassified = endpoints - set(REFUSED) - set(EXEMPT)
    assert not unclassified, ("classify new endpoints here", unclassified)
    assert set(REFUSED) <= endpoints  # the table names real routes only


@pytest.fixture()
def ids(session, now, demo_world) -> dict[str, Any]:
    return demo_world


@pytest.fixture()
def demo_world(session, now) -> dict[str, Any]:
    demo, ids = factories.demo_ids(session, now)
    ids["flag_id"] = make_flag(session, utcnow(), producer=demo.orgs["producer"]).id
    session.commit()
    return ids


@pytest.mark.parametrize(
    "account", ["producer", "producer-staff", "carrier", "driver", "receiver", "regulator"]
)
def test_refused_callers_get_403_whatever_the_body(app, client, ids, account):
    email = f"{account}@demo.test"
    headers = api_token(client, email)
    login(client, email)
    checked = 0
    for rule in write_rules(app):
        if account not in REFUSED.get(rule.endpoint, []):
            continue
        url = factories.rule_url(app, rule, ids)
        for method in sorted(rule.methods & WRITES):
            bodies = (
                API_BODIES if rule.rule.startswith("/api/") else [{"data": b} for b in FORM_BODIES]
            )
            for body in bodies:
                extra = {"headers": headers} if rule.rule.startswith("/api/") else {}
                response = client.open(url, method=method, **body, **extra)
                assert response.status_code == 403, (
                    rule.endpoint,
                    method,
                    account,
                    body,
                    response.status_code,
                    response.get_data(as_text=True)[:300],
                )
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("verb", sorted(SCAN_REFUSED))
def test_scan_actions_check_the_party_before_the_form(app, client, ids, verb):
    url = f"/m/{ids['token']}/{verb}"
    for account in SCAN_REFUSED[verb]:
        client.post("/logout")
        login(client, f"{account}@demo.test")
        for body in FORM_BODIES:
            response = client.post(url, data=body)
            assert response.status_code == 403, (verb, account, body, response.status_code)
