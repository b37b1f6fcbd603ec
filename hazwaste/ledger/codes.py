"""The container digital identification code (数字识别码), in one place.

HJ 1276-2022 draft practice: producer USCC (18) + waste code without dashes (8) +
generation date ``YYYYMMDD`` (8) + sequence (3) = 37 characters. When the standard's final
text changes the layout, only this module changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

USCC_LENGTH = 18
WASTE_CODE_LENGTH = 8
DATE_LENGTH = 8
SEQUENCE_DIGITS = 3
CODE_LENGTH = USCC_LENGTH + WASTE_CODE_LENGTH + DATE_LENGTH + SEQUENCE_DIGITS  # 37
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1

_PATTERN = re.compile(
    rf"^(?P<uscc>[0-9A-HJ-NPQRTUWXY]{{{USCC_LENGTH}}})(?P<code>\d{{{WASTE_CODE_LENGTH}}})"
    rf"(?P<date>\d{{{DATE_LENGTH}}})(?P<seq>\d{{{SEQUENCE_DIGITS}}})$"
)


@dataclass(frozen=True)
class ContainerCode:
    uscc: str
    waste_code: str  # with dashes, NNN-NNN-NN
    generation_date: date
    sequence: int

    def __str__(self) -> str:
        return format_code(self.uscc, self.waste_code, self.generation_date, self.sequence)


def format_code(uscc: str, waste_code: str, generation_date: date, sequence: int) -> str:
    """Build the 37-character code; ``ValueError`` if a part does not fit the layout."""
    compact = waste_code.replace("-", "")
    if len(uscc) != USCC_LENGTH or len(compact) != WASTE_CODE_LENGTH or not compact.isdigit():
        raise ValueError("USCC must have 18 characters and the waste code 8 digits")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be between 1 and {MAX_SEQUENCE}")
    return f"{uscc}{compact}{generation_date:%Y%m%d}{sequence:0{SEQUENCE_DIGITS}d}"


def parse_code(value: str) -> ContainerCode | None:
    """The parts of a well-formed code (spaces and case forgiven), or None."""
    text = re.sub(r"\s+", "", value or "").upper()
    match = _PATTERN.match(text)
    if match is None:
        return None
    raw = match["code"]
    try:
        day = date(int(match["date"][:4]), int(match["date"][4:6]), int(match["date"][6:]))
    except ValueError:
        return None
    return ContainerCode(match["uscc"], f"{raw[:3]}-{raw[3:6]}-{raw[6:]}", day, int(match["seq"]))
