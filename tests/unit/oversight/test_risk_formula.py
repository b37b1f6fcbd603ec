"""The risk score formula: each factor and the grade boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hazwaste.oversight import risk

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def points(
    severity="high",
    case_status="new",
    case_finding=None,
    age_days=1,
    response_after_days: float | None = 1,
):
    first_seen = NOW - timedelta(days=age_days)
    response = (
        None if response_after_days is None else first_seen + timedelta(days=response_after_days)
    )
    return risk.flag_points(
        severity=severity,
        case_status=case_status,
        case_finding=case_finding,
        first_seen_at=first_seen,
        first_response_at=response,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("severity", "expected"), [("low", 1), ("medium", 3), ("high", 8), ("critical", 20)]
)
def test_severity_weights(severity, expected):
    assert points(severity=severity) == Decimal(expected)


@pytest.mark.parametrize(
    ("status", "finding", "factor"),
    [
        ("new", None, "1"),
        ("investigating", None, "1"),
        ("closed", "violation", "2"),
        ("closed", "explained", "0.5"),
        ("closed", "false_alarm", "0"),
        ("referred", None, "3"),
    ],
)
def test_case_factor(status, finding, factor):
    assert points(severity="high", case_status=status, case_finding=finding) == 8 * Decimal(factor)


def test_late_response_penalty():
    assert points(severity="low", age_days=20, response_after_days=None) == Decimal(3)
    assert points(severity="low", age_days=20, response_after_days=16) == Decimal(3)
    assert points(severity="low", age_days=20, response_after_days=14) == Decimal(1)
    # the 15 days have not passed yet: no penalty
    assert points(severity="low", age_days=10, response_after_days=None) == Decimal(1)
    # no penalty for a false alarm
    assert (
        points(
            severity="low",
            case_status="closed",
            case_finding="false_alarm",
            age_days=20,
            response_after_days=None,
        )
        == 0
    )


def test_old_flags_count_half():
    assert points(severity="critical", age_days=366) == Decimal(10)
    assert points(severity="critical", age_days=364) == Decimal(20)
    assert points(severity="low", age_days=400, response_after_days=None) == Decimal("1.5")


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        ("0", "trustworthy"),
        ("4", "trustworthy"),
        ("4.5", "trustworthy"),
        ("5", "good"),
        ("14", "good"),
        ("14.5", "good"),
        ("15", "warning"),
        ("39", "warning"),
        ("39.5", "warning"),
        ("40", "poor"),
        ("1000", "poor"),
    ],
)
def test_grade_boundaries(score, grade):
    assert risk.grade(Decimal(score)) == grade
