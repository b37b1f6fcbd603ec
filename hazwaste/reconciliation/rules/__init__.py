"""The rule registry. Adding a rule = one module here (a class decorated with ``register``)
plus its tests; importing the module below registers it."""

from hazwaste.reconciliation.rules import (  # noqa: F401  (registration side effect)
    licence_expiring,
    licence_mismatch,
    location_mismatch,
    never_picked_up,
    over_capacity,
    over_plan,
    producer_balance,
    receipt_overdue,
    receiver_balance,
    storage_overdue,
    transit_overdue,
    weight_gap,
)
from hazwaste.reconciliation.rules.base import REGISTRY, Rule, register

__all__ = ["REGISTRY", "Rule", "register"]
