"""Exact quantities: the ``Quantity`` column type (integer grams) and the ``Weight`` field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import ValidationError
from sqlalchemy import BigInteger, func, literal, select, union_all
from sqlalchemy.exc import StatementError

from hazwaste.db import Quantity, QuantityError, grams, kg_from_grams
from hazwaste.schemas import BaseSchema, Weight, field_errors

# -- the column type --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kg", ["1234.567", "0", "0.001", "0.010", "18000", "999999999.999", "9000000000000"]
)
def test_round_trip_through_the_database_is_exact(session, kg):
    value = session.scalar(select(literal(Decimal(kg), Quantity())))
    assert isinstance(value, Decimal)
    assert value == Decimal(kg)
    assert value.as_tuple().exponent == -3, "always shown to the gram"


def test_stored_as_integer_grams(session):
    raw = session.scalar(select(literal(Decimal("1234.567"), Quantity()).cast(BigInteger)))
    assert raw == 1234567
    assert Quantity().process_bind_param(Decimal("1234.567"), None) == 1234567
    assert Quantity().process_bind_param("12.5", None) == 12500
    assert Quantity().process_bind_param(3, None) == 3000
    assert Quantity().process_bind_param(None, None) is None
    assert Quantity().process_result_value(None, None) is None
    assert Quantity().process_result_value(1234567, None) == Decimal("1234.567")


def test_sums_are_exact(session):
    """Small amounts added in SQL stay exact (as floats, ten times 0.1 is not 1)."""
    parts = [select(literal(Decimal("0.005"), Quantity()).label("q")) for _ in range(200)]
    parts += [select(literal(Decimal("0.1"), Quantity()).label("q")) for _ in range(10)]
    rows = union_all(*parts).subquery()
    total = session.scalar(select(func.sum(grams(rows.c.q))))
    assert kg_from_grams(total) == Decimal("2.000")
    assert kg_from_grams(None) == Decimal("0.000")


@pytest.mark.parametrize("value", [Decimal("0.0005"), Decimal("1234.5671"), "0.0001", 0.1])
def test_finer_than_a_gram_raises(session, value):
    with pytest.raises(QuantityError, match="finer than 1 g"):
        Quantity().process_bind_param(value, None)
    with pytest.raises(StatementError) as info:
        session.scalar(select(literal(value, Quantity())))
    assert isinstance(info.value.orig, QuantityError)


@pytest.mark.parametrize(
    "value",
    ["abc", Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN"), True, [1]],
)
def test_not_a_quantity_raises(value):
    with pytest.raises(QuantityError, match="not a quantity"):
        Quantity().process_bind_param(value, None)


# -- the schema field ---------------------------------------------------------------------------


class WeightSchema(BaseSchema):
    kg = Weight()
    t = Weight(unit="t")
    maybe_zero = Weight(positive=False)


def load(**data):
    return WeightSchema().load(data)


def error(field: str, value) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load(**{field: value})
    return info.value.messages[field]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1234.567", "1234.567"),
        ("1250.5", "1250.500"),
        (1250.5, "1250.500"),
        (0.1, "0.100"),
        (7, "7.000"),
        (" 42 ", "42.000"),
        ("1,250.5", "1250.500"),
        ("1e3", "1000.000"),
        (Decimal("0.001"), "0.001"),
    ],
)
def test_weight_in_kg(value, expected):
    result = load(kg=value)["kg"]
    assert isinstance(result, Decimal)
    assert str(result) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1.8", "1800.000"),
        ("0.0005", "0.500"),
        ("1.2345", "1234.500"),
        ("12", "12000.000"),
        ("0.000001", "0.001"),
    ],
)
def test_weight_in_tonnes_is_converted_to_kg(value, expected):
    assert str(load(t=value)["t"]) == expected


def test_blank_form_value_is_absent():
    assert load(kg="  ") == {}


@pytest.mark.parametrize(
    "value", ["abc", "NaN", "nan", "Infinity", "-inf", "sNaN", "", True, "1.2.3", "12kg", [1]]
)
def test_not_a_number(value):
    if value == "":
        return  # blank is "absent" (see above), covered by required=True where needed
    assert error("kg", value) == ["Enter a number, for example 1250.5."]


@pytest.mark.parametrize("value", ["0", "-1", "-0.001", 0, "-0"])
def test_zero_and_negatives_when_positive_required(value):
    assert error("kg", value) == ["Must be greater than zero."]
    assert error("t", value) == ["Must be greater than zero."]


def test_zero_allowed_but_not_negative():
    assert load(maybe_zero="0")["maybe_zero"] == Decimal("0.000")
    assert str(load(maybe_zero="-0")["maybe_zero"]) == "0.000"
    assert error("maybe_zero", "-0.5") == ["Must not be negative."]


@pytest.mark.parametrize(
    "field, value", [("kg", "1.2345"), ("kg", "0.0001"), ("t", "0.0000001"), ("t", "1.0000005")]
)
def test_finer_than_a_gram(field, value):
    assert error(field, value) == ["At most three decimals (one gram)."]


def test_too_large():
    assert error("kg", "1000000000000") == ["Too large."]
    assert error("t", "1000000000") == ["Too large."]
    assert load(kg="999999999999.999")["kg"] == Decimal("999999999999.999")


def test_serialises_back_in_its_unit():
    dumped = WeightSchema().dump(
        {"kg": Decimal("1800.000"), "t": Decimal("1800.000"), "maybe_zero": None}
    )
    assert dumped == {"kg": "1800", "t": "1.8", "maybe_zero": None}


def test_messages_are_translated(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        with pytest.raises(ValidationError) as info:
            load(kg="abc", t="-1")
        messages = field_errors(info.value)
    assert messages["kg"] != ["Enter a number, for example 1250.5."]
    assert messages["t"] != ["Must be greater than zero."]
    assert "1250.5" in messages["kg"][0]
