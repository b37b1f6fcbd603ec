"""Import every domain's models so ``Base.metadata`` is complete (Alembic, create_all)."""

from hazwaste.accounts.models import ApiToken, Organization, RegulatorBody, User, UserSession
from hazwaste.api.models import IdempotencyRecord
from hazwaste.audit.models import AuditCheckpoint, AuditEntry, AuditTreeNode
from hazwaste.catalog.models import (
    CatalogEdition,
    Exemption,
    Region,
    TreatmentMethod,
    WasteCategory,
    WasteCode,
)
from hazwaste.holidays.models import HolidayDay, HolidayYear
from hazwaste.jobs.models import OutboxJob
from hazwaste.ledger.models import Container, ContainerSequence, LedgerEntry
from hazwaste.manifests.models import (
    Manifest,
    ManifestEvent,
    ManifestLine,
    ManifestSerial,
)
from hazwaste.notifications.models import Notification, NotificationPreference
from hazwaste.permits.models import (
    CarrierPermit,
    Driver,
    Licence,
    LicenceMethod,
    LicenceScope,
    Vehicle,
)
from hazwaste.plans.models import ManagementPlan
from hazwaste.reconciliation.models import Flag, ReconciliationRun
from hazwaste.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditTreeNode",
    "CarrierPermit",
    "CatalogEdition",
    "Container",
    "ContainerSequence",
    "Driver",
    "Exemption",
    "Flag",
    "HolidayDay",
    "HolidayYear",
    "IdempotencyRecord",
    "LedgerEntry",
    "Licence",
    "LicenceMethod",
    "LicenceScope",
    "ManagementPlan",
    "Manifest",
    "ManifestEvent",
    "ManifestLine",
    "ManifestSerial",
    "Notification",
    "NotificationPreference",
    "Organization",
    "OutboxJob",
    "ReconciliationRun",
    "Region",
    "RegulatorBody",
    "TreatmentMethod",
    "User",
    "UserSession",
    "Vehicle",
    "WasteCategory",
    "WasteCode",
    "WebhookDelivery",
    "WebhookEndpoint",
]
