"""Unified social credit code (USCC) validation: checksum, length, alphabet."""

from __future__ import annotations

import pytest

from hazwaste.accounts.services import check_uscc
from hazwaste.demo.services import ORGS, demo_uscc
from hazwaste.errors import Invalid

EN = {"Accept-Language": "en"}
VALID = demo_uscc("150602", "MA0Q4TR51")  # 91150602MA0Q4TR51W


@pytest.fixture()
def en(app):
    with app.test_request_context(headers=EN):
        yield


def uscc_message(value: str) -> str:
    with pytest.raises(Invalid) as info:
        check_uscc(value)
    assert list(info.value.fields) == ["uscc"], "the message belongs to the uscc field"
    (message,) = info.value.fields["uscc"]
    assert message == info.value.message
    return message


@pytest.mark.parametrize("spec", ORGS, ids=lambda s: s["key"])
def test_demo_codes_are_valid(en, spec):
    code = demo_uscc(spec["region_code"], spec["org_code"])
    assert len(code) == 18
    assert check_uscc(code) == code


def test_known_valid_code_and_normalisation(en):
    assert VALID == "91150602MA0Q4TR51W"
    assert check_uscc(VALID) == VALID
    # Typed in lower case or with spaces/dashes, the compact upper-case form is stored.
    assert check_uscc(VALID.lower()) == VALID
    assert check_uscc(f" {VALID[:2]} {VALID[2:8]}-{VALID[8:]} ") == VALID


def test_wrong_check_character(en):
    wrong = VALID[:-1] + ("X" if VALID[-1] != "X" else "Y")
    assert uscc_message(wrong) == (
        "The check character is wrong: please check the code for a typo."
    )


@pytest.mark.parametrize("value", [VALID[:-1], VALID + "1", "9115", ""])
def test_wrong_length(en, value):
    assert uscc_message(value) == "A unified social credit code has 18 characters."


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_forbidden_letters(en, letter):
    # Put the letter in the organization-code part, where letters are otherwise allowed;
    # the message must name the letter, not complain about the checksum.
    value = VALID[:9] + letter + VALID[10:]
    message = uscc_message(value)
    assert message.startswith("The letters I, O, Z, S and V never appear")
    assert f"(found: {letter})" in message


def test_forbidden_letters_typed_in_lower_case(en):
    message = uscc_message(VALID[:9] + "o" + VALID[10:12] + "i" + VALID[13:])
    assert "(found: I, O)" in message


def test_other_bad_characters(en):
    assert uscc_message(VALID[:16] + "#" + VALID[17]) == (
        "This is not a valid unified social credit code."
    )
    # The first eight characters (registration authority, type, region) are digits.
    assert uscc_message("A" + VALID[1:]) == "This is not a valid unified social credit code."


def test_messages_are_translated(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        message = uscc_message(VALID[:-1])
    assert message != "A unified social credit code has 18 characters."
    assert "18" in message
