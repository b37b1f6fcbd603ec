"""Permit rules: licence coverage by code and category on each side of the validity dates and
after revocation, the coverage check, validity states, plate formats, and the permit schemas
(tonnes to kg, scope lists from form text or JSON lists)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import refresh
from marshmallow import ValidationError
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from hazwaste.audit import services as audit
from hazwaste.audit.models import AuditEntry
from hazwaste.errors import Forbidden, Invalid, NotFound
from hazwaste.permits import services
from hazwaste.permits.models import Licence
from hazwaste.permits.schemas import (
    CoverageQuerySchema,
    LicenceOutSchema,
    LicenceSchema,
    VehicleOutSchema,
    VehicleSchema,
    split_items,
)
from hazwaste.permits.services import is_valid_plate, licence_covers, normalise_plate
from tests import factories

FIRST, LAST = date(2026, 3, 1), date(2027, 2, 28)


def licence_data(**overrides):
    data = {
        "number": "蒙危废经第150699001号",
        "valid_from": FIRST,
        "valid_to": LAST,
        "annual_capacity_kg": Decimal("5000000"),
        "scope_categories": ["HW08"],
        "scope_codes": ["261-085-45"],
        "methods": ["R9", "D10"],
        "note": "",
    }
    data.update(overrides)
    return data


@pytest.fixture()
def english(app):
    """Messages in English: a request whose browser asks for it."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()
        yield
    refresh()


@pytest.fixture()
def receiver(session, now, demo):
    """A fresh approved receiver (no licence yet) beside the demo world, and its admin."""
    org, user = factories.organization(
        session, now, roles=("receiver",), approved_by=demo.users["admin"]
    )
    return org, user


@pytest.fixture()
def licence(session, now, receiver):
    _org, user = receiver
    return services.create_licence(session, now, user, licence_data())


# -- coverage ---------------------------------------------------------------------------------


def test_covers_by_exact_code(session, receiver, licence):
    org, _ = receiver
    assert licence_covers(session, org, "261-085-45", date(2026, 6, 1))  # HW45, code in scope
    assert licence_covers(session, org.id, "261-085-45", date(2026, 6, 1))


def test_covers_by_category(session, receiver, licence):
    org, _ = receiver
    for code in ("900-249-08", "071-001-08", "251-001-08"):  # every HW08 code
        assert licence_covers(session, org, code, date(2026, 6, 1)), code


def test_code_outside_scope_is_not_covered(session, receiver, licence):
    org, _ = receiver
    assert not licence_covers(session, org, "261-086-45", date(2026, 6, 1))  # HW45, not listed
    assert not licence_covers(session, org, "841-001-01", date(2026, 6, 1))  # HW01


@pytest.mark.parametrize(
    ("day", "covered"),
    [
        (FIRST - timedelta(days=1), False),
        (FIRST, True),
        (LAST, True),
        (LAST + timedelta(days=1), False),
    ],
)
def test_validity_bounds_are_inclusive(session, receiver, licence, day, covered):
    org, _ = receiver
    assert licence_covers(session, org, "900-249-08", day) is covered
    assert licence_covers(session, org, "261-085-45", day) is covered


def test_revoked_licence_covers_nothing(session, now, receiver, licence):
    org, user = receiver
    services.revoke_licence(session, now, user, licence.id, "许可证被注销")
    assert licence.revoked_at == now
    assert not licence_covers(session, org, "900-249-08", date(2026, 6, 1))
    assert not licence_covers(session, org, "261-085-45", date(2026, 6, 1))
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "licence", AuditEntry.object_id == str(licence.id)
        )
    ).all()
    assert [e.action for e in entries] == ["licence.created", "licence.revoked"]
    assert "许可证被注销" in entries[1].payload
    # A second revocation changes nothing and writes nothing.
    services.revoke_licence(session, now + timedelta(days=1), user, licence.id)
    assert licence.revoked_at == now
    assert audit.verify(session).ok


def test_coverage_is_per_receiver(session, now, receiver, licence, demo):
    # The demo incinerator's licence names 261-084-45 only, not this licence's 261-085-45.
    assert not licence_covers(session, demo.orgs["receiver2"], "261-085-45", date(2026, 6, 1))
    assert licence_covers(session, demo.orgs["receiver2"], "261-084-45", date(2026, 6, 1))
    assert not licence_covers(session, receiver[0], "261-084-45", date(2026, 6, 1))


def test_method_follows_the_covering_licence(session, receiver, licence):
    org, _ = receiver
    day = date(2026, 6, 1)
    assert services.licence_allows_method(session, org.id, "900-249-08", day, "R9")
    assert not services.licence_allows_method(session, org.id, "900-249-08", day, "R2")
    assert not services.licence_allows_method(session, org.id, "261-086-45", day, "R9")


def test_check_coverage_says_how(session, now, receiver, licence):
    org, _ = receiver
    by_code = services.check_coverage(session, org.id, "261-085-45", date(2026, 6, 1))
    assert by_code.covered and by_code.licence_numbers == [licence.number]
    assert by_code.matches[0].matched_by == "code"
    assert by_code.entry is not None and by_code.entry.category == "HW45"
    by_category = services.check_coverage(session, org.id, "900-249-08", date(2026, 6, 1))
    assert by_category.matches[0].matched_by == "category"
    outside = services.check_coverage(session, org.id, "900-249-08", LAST + timedelta(days=1))
    assert not outside.covered and outside.licence_numbers == []


def test_check_coverage_refuses_unknown_receiver_and_code(session, now, demo, english):
    producer = demo.orgs["producer"]
    with pytest.raises(Invalid) as exc:
        services.check_coverage(session, producer.id, "999-999-99", date(2026, 6, 1))
    assert set(exc.value.fields) == {"receiver_id", "waste_code"}
    with pytest.raises(Invalid) as exc:
        services.check_coverage(session, 10**6, "900-249-08", date(2026, 6, 1))
    assert set(exc.value.fields) == {"receiver_id"}


# -- managing ---------------------------------------------------------------------------------


def test_create_licence_rules(session, now, receiver, licence, english):
    _, user = receiver
    count = session.scalar(select(func.count()).select_from(Licence))
    with pytest.raises(Invalid) as exc:
        services.create_licence(
            session,
            now,
            user,
            licence_data(
                valid_from=LAST,
                valid_to=FIRST,
                scope_categories=["HW99"],
                scope_codes=["999-999-99"],
                methods=["Z1"],
            ),
        )
    fields = exc.value.fields
    assert fields["number"] == ["A licence with this number is already recorded."]
    assert fields["valid_to"] == ["The end date is before the start date."]
    assert fields["scope_categories"] == ["Unknown categories: HW99"]
    assert fields["scope_codes"] == ["Unknown waste codes: 999-999-99"]
    assert fields["methods"] == ["Unknown methods: Z1"]
    with pytest.raises(Invalid) as exc:
        services.create_licence(
            session,
            now,
            user,
            licence_data(number="另一个", scope_categories=[], scope_codes=[], methods=[]),
        )
    assert exc.value.fields == {
        "scope_codes": ["Give at least one waste code or category."],
        "methods": ["Choose at least one method."],
    }
    assert session.scalar(select(func.count()).select_from(Licence)) == count


def test_only_the_receivers_admin_manages_licences(session, now, receiver, licence, demo):
    _org, user = receiver
    member = factories.org_user(session, now, user, "member")
    with pytest.raises(Forbidden):
        services.create_licence(session, now, member, licence_data(number="X-1"))
    with pytest.raises(Forbidden):
        services.revoke_licence(session, now, member, licence.id)
    with pytest.raises(Forbidden):  # a carrier is not a receiver
        services.create_licence(session, now, demo.users["carrier"], licence_data(number="X-2"))
    with pytest.raises(NotFound):  # another receiver's licence is not found
        services.revoke_licence(session, now, demo.users["receiver2"], licence.id)
    assert licence.revoked_at is None
    # Members may read; other organizations' users may not even see it.
    assert services.get_licence(session, member, licence.id) is licence
    with pytest.raises(NotFound):
        services.get_licence(session, demo.users["receiver2"], licence.id)
    with pytest.raises(Forbidden):
        services.get_licence(session, demo.users["producer"], licence.id)


def test_vehicle_activation_is_audited_once(session, now, demo):
    vehicle = demo.extra["vehicles"][0]
    carrier = demo.users["carrier"]

    def actions():
        return session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.object_type == "vehicle", AuditEntry.object_id == str(vehicle.id)
            )
        ).all()

    services.set_vehicle_active(session, now, carrier, vehicle.id, False)
    services.set_vehicle_active(session, now, carrier, vehicle.id, False)  # no change
    services.set_vehicle_active(session, now, carrier, vehicle.id, True)
    assert actions() == ["vehicle.created", "vehicle.deactivated", "vehicle.activated"]
    with pytest.raises(Forbidden):
        services.set_vehicle_active(session, now, demo.users["driver"], vehicle.id, False)


def test_driver_papers_rules(session, now, demo, english):
    carrier = demo.users["carrier"]
    new_driver = factories.org_user(session, now, carrier, "driver")
    member = factories.org_user(session, now, carrier, "member")
    papers = {
        "licence_number": "150602199001011234",
        "qualification_number": "15060001",
        "qualification_valid_to": date(2028, 1, 1),
    }
    for user_id in (member.id, demo.users["producer"].id, demo.users["driver"].id, 10**6):
        with pytest.raises(Invalid) as exc:
            services.register_driver(session, now, carrier, {**papers, "user_id": user_id})
        assert list(exc.value.fields) == ["user_id"]
    with pytest.raises(Invalid) as exc:
        services.register_driver(
            session,
            now,
            carrier,
            {**papers, "user_id": new_driver.id, "qualification_valid_to": date(2026, 11, 19)},
        )
    assert exc.value.fields == {"qualification_valid_to": ["This certificate has already expired."]}
    assert services.driver_candidates(session, carrier.organization_id) == [new_driver]
    driver = services.register_driver(session, now, carrier, {**papers, "user_id": new_driver.id})
    assert driver.organization_id == carrier.organization_id
    assert services.driver_candidates(session, carrier.organization_id) == []


# -- validity state ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "revoked", "state"),
    [
        (date(2026, 2, 28), False, "future"),
        (date(2026, 3, 1), False, "valid"),
        (date(2026, 12, 29), False, "valid"),  # 61 days before the end
        (date(2026, 12, 30), False, "expiring"),  # 60 days before the end
        (date(2027, 2, 28), False, "expiring"),
        (date(2027, 3, 1), False, "expired"),
        (date(2026, 6, 1), True, "revoked"),
    ],
)
def test_validity_state(today, revoked, state):
    permit = SimpleNamespace(
        valid_from=FIRST,
        valid_to=LAST,
        revoked_at=datetime(2026, 5, 1, tzinfo=UTC) if revoked else None,
    )
    assert services.validity_state(permit, today, 60) == state


def test_local_today_is_the_date_in_china():
    assert services.local_today(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert services.local_today(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == date(2027, 1, 1)


# -- plates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("plate", ["蒙K5B120", "蒙KD26318", "京A12345", "蒙K1234挂", "粤BF12345"])
def test_valid_plates(plate):
    assert is_valid_plate(plate)


@pytest.mark.parametrize(
    "plate",
    [
        "蒙I12345",  # no I (nor O) as the authority letter
        "蒙O12345",
        "AB12345",  # no province
        "蒙K123",  # too short
        "蒙K1234567",  # too long
        "X蒙12345",
        "蒙KI2345",  # I is not a plate character
        "",
    ],
)
def test_invalid_plates(plate):
    assert not is_valid_plate(plate)


def test_plates_are_normalised():
    assert normalise_plate("蒙k5b120") == "蒙K5B120"
    assert normalise_plate(" 蒙K·5B120 ") == "蒙K5B120"
    assert normalise_plate("蒙K-5B 120") == "蒙K5B120"
    assert is_valid_plate("蒙kd26318")


def test_vehicle_is_stored_under_the_normalised_plate(session, now, demo, english):
    vehicle = services.create_vehicle(
        session,
        now,
        demo.users["carrier"],
        {"plate": "蒙k·7c301", "vehicle_type": "", "max_load_kg": Decimal("12000")},
    )
    assert vehicle.plate == "蒙K7C301"
    with pytest.raises(Invalid) as exc:
        services.create_vehicle(
            session,
            now,
            demo.users["carrier"],
            {"plate": "蒙K7C301", "max_load_kg": Decimal("1")},
        )
    assert exc.value.fields == {"plate": ["A vehicle with this plate is already registered."]}


# -- schemas ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "items"),
    [
        ("HW08 HW49", ["HW08", "HW49"]),
        ("hw08,HW49，HW50；HW08", ["HW08", "HW49", "HW50"]),
        (["HW08 hw49", "HW50"], ["HW08", "HW49", "HW50"]),
        ("900-041-49、900-042-49\n", ["900-041-49", "900-042-49"]),
        ("", []),
        ([], []),
    ],
)
def test_split_items(raw, items):
    assert split_items(raw) == items


def test_licence_schema_reads_a_form_in_tonnes(english):
    form = MultiDict(
        [
            ("csrf_token", "x"),
            ("number", " 蒙危废经第1号 "),
            ("valid_from", "2026-03-01"),
            ("valid_to", "2027-02-28"),
            ("annual_capacity_t", "12,500.25"),
            ("scope_categories", "HW08"),
            ("scope_categories", "HW49"),
            ("scope_codes", "900-041-49, 261-084-45"),
            ("methods", "R9"),
            ("methods", "D10"),
            ("note", ""),
        ]
    )
    data = LicenceSchema().load(form)
    assert data == {
        "number": "蒙危废经第1号",
        "valid_from": FIRST,
        "valid_to": LAST,
        "annual_capacity_kg": Decimal("12500250.000"),
        "scope_categories": ["HW08", "HW49"],
        "scope_codes": ["900-041-49", "261-084-45"],
        "methods": ["R9", "D10"],
        "modes": ["collect", "store", "utilise", "dispose"],  # none ticked: all (综合)
        "note": "",
    }


def test_licence_schema_reads_json_lists(english):
    data = LicenceSchema().load(
        {
            "number": "A",
            "valid_from": "2026-03-01",
            "valid_to": "2027-02-28",
            "annual_capacity_t": 0.1,
            "scope_codes": ["900-041-49"],
            "methods": ["r9"],
        }
    )
    assert data["annual_capacity_kg"] == Decimal("100.000")
    assert data["scope_categories"] == [] and data["scope_codes"] == ["900-041-49"]
    assert data["methods"] == ["R9"]


def test_licence_schema_names_malformed_scope_items(english):
    with pytest.raises(ValidationError) as exc:
        LicenceSchema().load(
            {
                "number": "A",
                "valid_from": "2026-03-01",
                "valid_to": "not a date",
                "annual_capacity_t": "0.0000001",
                "scope_categories": "HW8 HW08",
                "scope_codes": "900-041-49 90004149",
                "methods": [3],
            }
        )
    messages = exc.value.messages
    assert messages["scope_categories"] == ["Not a category (they look like HW08): HW8"]
    assert messages["scope_codes"] == ["Not a waste code (they look like 900-041-49): 90004149"]
    assert messages["valid_to"] == ["Not a valid date (YYYY-MM-DD)."]
    assert messages["annual_capacity_t"] == ["At most three decimals (one gram)."]
    assert "methods" in messages


def test_vehicle_schema_loads_tonnes_and_output_gives_both(session, demo, english):
    data = VehicleSchema().load({"plate": "蒙K5B121", "max_load_t": "9.5"})
    assert data["max_load_kg"] == Decimal("9500.000")
    out = VehicleOutSchema().dump(demo.extra["vehicles"][1])
    assert out["max_load_kg"] == "9500.000" and out["max_load_t"] == "9.5"
    assert isinstance(out["max_load_kg"], str)


def test_licence_output_state_and_quantities(session, demo):
    licence = demo.extra["licence"]
    out = LicenceOutSchema(today=date(2027, 12, 1), warning_days=60).dump(licence)
    later = LicenceOutSchema(today=date(2028, 1, 1), warning_days=60).dump(licence)
    assert out["status"] == "expiring" and later["status"] == "expired"
    assert out["annual_capacity_kg"] == "30000000.000" and out["annual_capacity_t"] == "30000"
    assert out["methods"] == sorted(["R2", "R3", "R9", "D10", "C3"])
    assert "HW08" in out["scope_categories"]


def test_coverage_query_schema(english):
    assert CoverageQuerySchema().load({"receiver_id": "3", "waste_code": " 900-249-08 "}) == {
        "receiver_id": 3,
        "waste_code": "900-249-08",
        "on": None,
    }
    with pytest.raises(ValidationError) as exc:
        CoverageQuerySchema().load({"receiver_id": "x", "waste_code": "HW08", "on": "1.1."})
    assert set(exc.value.messages) == {"receiver_id", "waste_code", "on"}
