"""The event types, with their names in the user's language.

Each type is a stable string (``<subject>.<what happened>``): webhook receivers and
notification preferences store it, so a type is never renamed, only added.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

MANIFEST_SUBMITTED = "manifest.submitted"
MANIFEST_PICKED_UP = "manifest.picked_up"
MANIFEST_DELIVERED = "manifest.delivered"
MANIFEST_RECEIVED = "manifest.received"
MANIFEST_DISCREPANCY = "manifest.discrepancy"
MANIFEST_REJECTED = "manifest.rejected"
REVISION_REQUESTED = "manifest.revision_requested"
RECEIPT_DUE = "manifest.receipt_due"
RECEIPT_OVERDUE = "manifest.receipt_overdue"
FLAG_RAISED = "flag.raised"
FLAG_DECIDED = "flag.decided"
CASE_ASSIGNED = "case.assigned"
CASE_RESPONSE = "case.response"
LICENCE_EXPIRING = "licence.expiring"
PERMIT_EXPIRING = "permit.expiring"
ORGANIZATION_APPROVED = "organization.approved"
WEBHOOK_DISABLED = "webhook.disabled"

#: type → its name in the user's language (also the order of the preferences page).
EVENT_TYPES = {
    MANIFEST_SUBMITTED: _l("Manifest submitted to you"),
    MANIFEST_PICKED_UP: _l("Manifest picked up"),
    MANIFEST_DELIVERED: _l("Manifest delivered"),
    MANIFEST_RECEIVED: _l("Manifest received"),
    MANIFEST_DISCREPANCY: _l("Received quantity differs beyond tolerance"),
    MANIFEST_REJECTED: _l("Waste rejected"),
    REVISION_REQUESTED: _l("Revision waiting for you"),
    RECEIPT_DUE: _l("Receipt due tomorrow"),
    RECEIPT_OVERDUE: _l("Receipt overdue"),
    FLAG_RAISED: _l("New flag on your organization"),
    FLAG_DECIDED: _l("Regulator's decision on a flag"),
    CASE_ASSIGNED: _l("Case assigned to you"),
    CASE_RESPONSE: _l("Enterprise response to a case"),
    LICENCE_EXPIRING: _l("Licence expiring"),
    PERMIT_EXPIRING: _l("Permit expiring"),
    ORGANIZATION_APPROVED: _l("Organization approved"),
    WEBHOOK_DISABLED: _l("Webhook endpoint disabled"),
}
