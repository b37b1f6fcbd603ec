"""Report untranslated messages, and fill the English catalogue from its msgids.

Usage (after ``make extract-messages``)::

    .venv/bin/python scripts/translate_check.py            # list gaps; exit 1 if any
    .venv/bin/python scripts/translate_check.py --fill-en  # en msgstr := msgid where empty

msgids are English, so the en catalogue is the msgids themselves; filling it by hand is
busywork. The zh_CN catalogue must be translated by a person: this script only lists what
is missing there. ``tests/unit/test_i18n.py`` enforces the same completeness.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "hazwaste" / "translations"
LOCALES = ("zh_CN", "en")


def po_path(locale: str) -> Path:
    # Flask-Babel looks for str(Locale.parse(code)): zh_CN's catalogue lives in zh_Hans_CN.
    return TRANSLATIONS / str(Locale.parse(locale)) / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    with po_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


def save(catalogue: Catalog, locale: str) -> None:
    with po_path(locale).open("wb") as po:
        write_po(po, catalogue, width=76, no_location=True, include_previous=False)


def gaps(catalogue: Catalog) -> list[str]:
    """msgids whose translation is empty (in any plural form) or marked fuzzy."""
    found = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, list | tuple) else [message.string]
        if message.fuzzy or not all(strings):
            found.append(message.id if isinstance(message.id, str) else message.id[0])
    return found


def fill_english(catalogue: Catalog) -> int:
    """Copy each msgid into its empty en msgstr (singular and plural); return the count."""
    filled = 0
    for message in catalogue:
        if not message.id:
            continue
        if isinstance(message.id, str):
            if not message.string:
                message.string = message.id
                filled += 1
        elif not all(message.string):
            singular, plural = message.id[0], message.id[1]
            message.string = (singular, *([plural] * (catalogue.num_plurals - 1)))
            filled += 1
    return filled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fill-en", action="store_true", help="fill empty en msgstr from msgid")
    args = parser.parse_args(argv)
    if args.fill_en:
        english = load("en")
        count = fill_english(english)
        save(english, "en")
        print(f"en: filled {count} messages")
    status = 0
    for locale in LOCALES:
        missing = gaps(load(locale))
        for msgid in missing:
            print(f"{locale}: {msgid}")
        status = status or int(bool(missing))
    return status


if __name__ == "__main__":
    sys.exit(main())
