"""API token scopes: the names and what each lets a token do.

Tokens are an accounts concept, so the vocabulary lives here; which scope each API
operation needs is the API's business (:mod:`hazwaste.api.scopes`).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: Scope name → translated description (shown on the account page and in the API document).
SCOPES = {
    "manifests:read": _l("Read manifests, their events, PDFs and QR codes"),
    "manifests:write": _l("Create, edit, submit, correct and cancel manifests"),
    "handoffs": _l("Record pickups, deliveries, receipts, disposals and scans"),
    "ledger": _l("Containers, ledger entries and balances"),
    "permits": _l("Licences, carrier permits, drivers, vehicles and plans"),
    "oversight:read": _l("Read oversight flags, risk ratings and inspection draws"),
    "cases:write": _l("Assign, annotate and move oversight flags; draw inspections"),
    "reconciliation": _l("Reconciliation of balances and licence coverage"),
    "audit:read": _l("Read the audit trail"),
    "notifications": _l("Notifications"),
    "webhooks": _l("Webhooks"),
    "reference": _l(
        "Load reference data: holiday schedules, catalogue editions (platform administrators)"
    ),
    "tokens": _l("List and revoke API tokens (new tokens never exceed this token's scopes)"),
}
