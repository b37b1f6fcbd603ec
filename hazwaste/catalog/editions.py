"""A new edition of the national catalogue (名录) as a data-only change: an administrator
imports its table (the columns of ``hazwaste/data/hw_catalog_2021.csv``), sees the
differences with the edition in force before it — codes added, removed, and changed (category,
description, hazards) — and loads it with the day it comes into force. Manifests, plans and
containers then use the edition in force on their date (``catalog.services.edition_on``).

All or nothing: every bad row is named, and nothing is loaded. An edition's exemption list
(豁免清单) is kept from the previous edition unless the administrator says otherwise (the
2025 list is not available to the project as a table either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwaste import csvimport
from hazwaste.accounts.models import User
from hazwaste.audit import services as audit
from hazwaste.catalog.models import CatalogEdition, Exemption, WasteCategory, WasteCode
from hazwaste.catalog.services import WASTE_CODE_PATTERN
from hazwaste.errors import Forbidden, Invalid

COLUMNS = ("category", "category_name", "industry_source", "waste_code", "description", "hazard")
#: 危险特性: toxicity, corrosivity, ignitability, reactivity, infectivity.
HAZARDS = ("T", "C", "I", "R", "In")
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
EDITION_CODE = re.compile(r"^[0-9A-Za-z_-]{1,16}$")
#: Fields compared between editions (a change in any is reported).
COMPARED = ("category", "description", "hazard")


@dataclass
class Change:
    code: str
    field: str
    before: str
    after: str


@dataclass
class Diff:
    base: str | None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "total": self.total,
            "added": self.added,
            "removed": self.removed,
            "changed": [c.__dict__ for c in self.changed],
        }


def _hazard(value: str) -> str | None:
    """Normalised 危险特性 ("T,I"), from "T", "T,I", "T，I" or "T/I"; None if invalid."""
    parts = [p.strip() for p in re.split(r"[,，/、]", value) if p.strip()]
    if not parts or any(p not in HAZARDS for p in parts) or len(set(parts)) != len(parts):
        return None
    return ",".join(parts)


def parse(text: str) -> list[dict[str, str]]:
    """The rows of an edition table. ``Invalid`` (field ``file``) names every bad line."""
    if len(text.encode()) > MAX_FILE_BYTES:
        msg = _("The file is larger than %(kb)s KB.", kb=MAX_FILE_BYTES // 1024)
        raise Invalid(msg, {"file": [msg]})
    header, records = csvimport.read_records(text, MAX_ROWS)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        msg = _("Columns missing from the first line: %(cols)s.", cols=", ".join(missing))
        raise Invalid(msg, {"file": [msg]})
    rows: list[dict[str, str]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, row in records:
        where = _("Line %(n)s of the file", n=number)
        code = row.get("waste_code", "")
        if not re.match(WASTE_CODE_PATTERN, code):
            errors.append(
                f"{where}: " + _("“%(v)s” is not a waste code (NNN-NNN-NN).", v=code[:20])
            )
            continue
        category = row.get("category", "")
        if category != "HW" + code[-2:]:
            errors.append(
                f"{where}: "
                + _(
                    "%(code)s belongs to HW%(cat)s, not %(given)s.",
                    code=code,
                    cat=code[-2:],
                    given=category[:10],
                )
            )
            continue
        hazard = _hazard(row.get("hazard", ""))
        if hazard is None:
            errors.append(
                f"{where}: " + _("The hazards must be among T, C, I, R and In (e.g. T,I).")
            )
            continue
        if not row.get("description"):
            errors.append(f"{where}: " + _("The description is empty."))
            continue
        if code in seen:
            errors.append(
                f"{where}: " + _("%(code)s is already on line %(n)s.", code=code, n=seen[code])
            )
            continue
        seen[code] = number
        rows.append(
            {
                "category": category,
                "category_name": row.get("category_name", "")[:100],
                "industry_source": row.get("industry_source", "")[:200],
                "waste_code": code,
                "description": row["description"],
                "hazard": hazard,
                "hazard_raw": row.get("hazard_raw") or row.get("hazard", ""),
            }
        )
    if errors:
        raise Invalid(_("The table was not loaded: fix these lines."), {"file": errors})
    if not rows:
        msg = _("The file holds no waste codes.")
        raise Invalid(msg, {"file": [msg]})
    return rows


def base_edition(session: Session, effective_from: date) -> CatalogEdition | None:
    """The edition the new one follows: the latest in force before ``effective_from``."""
    return session.scalars(
        select(CatalogEdition)
        .where(CatalogEdition.effective_from < effective_from)
        .order_by(CatalogEdition.effective_from.desc())
        .limit(1)
    ).first()


def diff(session: Session, base: CatalogEdition | None, rows: list[dict[str, str]]) -> Diff:
    """What changes from ``base`` to ``rows``."""
    result = Diff(base.code if base else None, total=len(rows))
    before = (
        {
            w.code: w
            for w in session.scalars(select(WasteCode).where(WasteCode.edition_code == base.code))
        }
        if base
        else {}
    )
    new = {r["waste_code"]: r for r in rows}
    result.added = sorted(set(new) - set(before))
    result.removed = sorted(set(before) - set(new))
    for code in sorted(set(new) & set(before)):
        old = before[code]
        for name in COMPARED:
            if getattr(old, name) != new[code][name]:
                result.changed.append(Change(code, name, getattr(old, name), new[code][name]))
    return result


def check_meta(session: Session, meta: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not EDITION_CODE.match(str(meta.get("code") or "")):
        errors["code"] = [_("Letters, digits, - or _, at most 16 (e.g. 2025).")]
    elif session.get(CatalogEdition, meta["code"]) is not None:
        errors["code"] = [_("This edition is already loaded.")]
    if not str(meta.get("name") or "").strip():
        errors["name"] = [_("This field is required.")]
    if not isinstance(meta.get("effective_from"), date):
        errors["effective_from"] = [_("Not a valid date.")]
    return errors


def import_edition(
    session: Session,
    now: datetime,
    actor: User,
    meta: dict[str, Any],
    text: str,
    dry_run: bool = False,
    keep_exemptions: bool = True,
) -> Diff:
    """Check the table and its differences with the edition before it; unless ``dry_run``,
    load it (edition, categories, codes, and the previous exemption list if
    ``keep_exemptions``) and audit it. ``Forbidden`` unless a platform administrator;
    ``Invalid`` for bad fields or lines (nothing loaded)."""
    if not actor.is_platform_admin:
        raise Forbidden()
    errors = check_meta(session, meta)
    try:
        rows = parse(text)
    except Invalid as exc:
        errors.update(exc.fields)
        rows = []
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    base = base_edition(session, meta["effective_from"])
    result = diff(session, base, rows)
    if dry_run:
        return result
    code = meta["code"]
    session.add(
        CatalogEdition(
            code=code,
            name=meta["name"].strip(),
            decree=(meta.get("decree") or "").strip(),
            effective_from=meta["effective_from"],
            source=(meta.get("source") or "").strip() or _("Imported by an administrator"),
        )
    )
    session.flush()
    categories: dict[str, str] = {}
    for row in rows:
        categories.setdefault(row["category"], row["category_name"])
        session.add(
            WasteCode(
                edition_code=code,
                code=row["waste_code"],
                **{
                    k: row[k]
                    for k in (
                        "category",
                        "category_name",
                        "industry_source",
                        "description",
                        "hazard",
                        "hazard_raw",
                    )
                },
            )
        )
    session.add_all(WasteCategory(edition_code=code, code=c, name=n) for c, n in categories.items())
    copied = 0
    if keep_exemptions and base is not None:
        for ex in session.scalars(select(Exemption).where(Exemption.edition_code == base.code)):
            session.add(
                Exemption(
                    edition_code=code,
                    item_no=ex.item_no,
                    waste_code_or_category=ex.waste_code_or_category,
                    waste_name=ex.waste_name,
                    exempt_stage=ex.exempt_stage,
                    exemption_condition=ex.exemption_condition,
                    exemption_content=ex.exemption_content,
                )
            )
            copied += 1
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="catalog.edition_imported",
        object_type="catalog_edition",
        object_id=code,
        payload={
            "effective_from": meta["effective_from"].isoformat(),
            "base": result.base,
            "codes": result.total,
            "added": len(result.added),
            "removed": len(result.removed),
            "changed": len(result.changed),
            "exemptions_kept": copied,
        },
    )
    return result
