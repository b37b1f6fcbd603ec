"""The scope each API operation needs (the scopes themselves: hazwaste.accounts.scopes).

Scopes only narrow a token: an operation checks the user's role-based rights as before and,
in addition, that the token carries the operation's scope. The table is keyed by endpoint
name; an authenticated operation missing from it is refused (fail closed), and a test checks
that every ``token_required`` endpoint is listed.
"""

from __future__ import annotations

#: Endpoint name → the scope its operation needs.
ENDPOINT_SCOPES = {
    "api.revoke_this_token": "tokens",
    "api.send_verification": "notifications",
    "api.tokens": "tokens",
    "api.create_token": "tokens",
    "api.revoke_token": "tokens",
    "api.me": "manifests:read",
    "api.organization": "manifests:read",
    "api.waste_codes": "manifests:read",
    "api.balance_rows": "reconciliation",
    "api.licence_coverage": "reconciliation",
    "api.carrier_permits": "permits",
    "api.create_carrier_permit": "permits",
    "api.drivers": "permits",
    "api.create_driver": "permits",
    "api.vehicles": "permits",
    "api.create_vehicle": "permits",
    "api.vehicle_active": "permits",
    "api.licences": "permits",
    "api.create_licence": "permits",
    "api.licence": "permits",
    "api.revoke_licence": "permits",
    "api.list_plans": "permits",
    "api.save_plan": "permits",
    "api.delete_plan": "permits",
    "api.import_plans": "permits",
    "api.create_container": "ledger",
    "api.list_containers": "ledger",
    "api.self_disposal": "ledger",
    "api.get_container": "ledger",
    "api.create_containers_bulk": "ledger",
    "api.ledger_entries": "ledger",
    "api.add_ledger_entry": "ledger",
    "api.ledger_summary": "ledger",
    "api.flags": "oversight:read",
    "api.flag": "oversight:read",
    "api.flag_notes": "oversight:read",
    "api.flag_responses": "oversight:read",
    "api.risk_ratings": "oversight:read",
    "api.draw_list": "oversight:read",
    "api.draw_show": "oversight:read",
    "api.flag_assignment": "cases:write",
    "api.add_flag_note": "cases:write",
    "api.add_flag_response": "cases:write",
    "api.flag_transition": "cases:write",
    "api.draw_create": "cases:write",
    "api.list_manifests": "manifests:read",
    "api.get_manifest": "manifests:read",
    "api.manifest_events": "manifests:read",
    "api.manifest_pdf": "manifests:read",
    "api.manifest_qr": "manifests:read",
    "api.create_manifest": "manifests:write",
    "api.patch_manifest": "manifests:write",
    "api.cancel_manifest": "manifests:write",
    "api.correct_manifest": "manifests:write",
    "api.submit_manifest": "manifests:write",
    "api.pickup_manifest": "handoffs",
    "api.deliver_manifest": "handoffs",
    "api.receive_manifest": "handoffs",
    "api.dispose_manifest": "handoffs",
    "api.notifications": "notifications",
    "api.read_notification": "notifications",
    "api.read_all_notifications": "notifications",
    "api.notification_preferences": "notifications",
    "api.update_notification_preferences": "notifications",
    "api.webhooks": "webhooks",
    "api.create_webhook": "webhooks",
    "api.webhook": "webhooks",
    "api.update_webhook": "webhooks",
    "api.delete_webhook": "webhooks",
    "api.deliveries": "webhooks",
    "api.replay": "webhooks",
}


def required_scope(endpoint: str | None) -> str | None:
    """The scope an endpoint needs, or None when it declares none (then it is refused)."""
    return ENDPOINT_SCOPES.get(endpoint or "")
