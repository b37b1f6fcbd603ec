"""Reconciliation: set-based rules comparing generated, shipped, received and disposed
tonnage; findings become flags that regulators work as cases."""
