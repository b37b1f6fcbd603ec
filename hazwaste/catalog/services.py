"""Load and query reference data.

Loading is idempotent: rows are upserted by their natural key, so re-running after a data
update changes what changed and adds what is new. Editions are listed in
``data/editions.csv``; adding the 2025 table is a new row there plus its CSV file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from hazwaste.catalog.models import (
    CatalogEdition,
    Exemption,
    Region,
    TreatmentMethod,
    WasteCategory,
    WasteCode,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
WASTE_CODE_PATTERN = r"^\d{3}-\d{3}-\d{2}$"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


@dataclass
class LoadReport:
    editions: int = 0
    waste_codes: int = 0
    exemptions: int = 0
    methods: int = 0
    regions: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _upsert(
    session: Session, model: type[Any], key: dict[str, Any], values: dict[str, Any]
) -> None:
    row = session.scalars(select(model).filter_by(**key)).one_or_none()
    if row is None:
        session.add(model(**key, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)


def load_regions(session: Session, path: Path) -> int:
    rows = list(_rows(path))
    existing = {r.code: r for r in session.scalars(select(Region))}
    # Parents first so the self-reference holds on databases that check it immediately.
    order = {"province": 0, "prefecture": 1, "county": 2}
    for row in sorted(rows, key=lambda r: order[r["level"]]):
        parent = row["parent_code"] or None
        current = existing.get(row["code"])
        if current is None:
            session.add(
                Region(code=row["code"], name=row["name"], level=row["level"], parent_code=parent)
            )
        else:
            current.name, current.level, current.parent_code = row["name"], row["level"], parent
        if row["level"] == "province":
            session.flush()
    session.flush()
    return len(rows)


def load_methods(session: Session, path: Path) -> int:
    count = 0
    for row in _rows(path):
        _upsert(
            session,
            TreatmentMethod,
            {"code": row["code"]},
            {
                "kind": row["kind"],
                "name_zh": row["name_zh"],
                "name_en": row["name_en"],
                "note": row["note"],
            },
        )
        count += 1
    session.flush()
    return count


def load_edition(session: Session, meta: dict[str, str], data_dir: Path) -> tuple[int, int]:
    code = meta["code"]
    _upsert(
        session,
        CatalogEdition,
        {"code": code},
        {
            "name": meta["name"],
            "decree": meta["decree"],
            "effective_from": date.fromisoformat(meta["effective_from"]),
            "source": meta["source"],
        },
    )
    session.flush()
    existing = {
        w.code: w for w in session.scalars(select(WasteCode).where(WasteCode.edition_code == code))
    }
    categories: dict[str, str] = {}
    waste_count = 0
    for row in _rows(data_dir / meta["catalog_file"]):
        values = {
            "category": row["category"],
            "category_name": row["category_name"],
            "industry_source": row["industry_source"],
            "description": row["description"],
            "hazard": row["hazard"],
            "hazard_raw": row["hazard_raw"],
        }
        categories.setdefault(row["category"], row["category_name"])
        current = existing.get(row["waste_code"])
        if current is None:
            session.add(WasteCode(edition_code=code, code=row["waste_code"], **values))
        else:
            for name, value in values.items():
                setattr(current, name, value)
        waste_count += 1
    for cat, name in categories.items():
        _upsert(session, WasteCategory, {"edition_code": code, "code": cat}, {"name": name})
    # Exemptions have no natural key (one row per sub-row of the table): replace them.
    session.execute(delete(Exemption).where(Exemption.edition_code == code))
    exemption_count = 0
    if meta.get("exemptions_file"):
        for row in _rows(data_dir / meta["exemptions_file"]):
            session.add(
                Exemption(
                    edition_code=code,
                    item_no=int(row["item_no"]),
                    waste_code_or_category=row["waste_code_or_category"],
                    waste_name=row["waste_name"],
                    exempt_stage=row["exempt_stage"],
                    exemption_condition=row["exemption_condition"],
                    exemption_content=row["exemption_content"],
                )
            )
            exemption_count += 1
    session.flush()
    return waste_count, exemption_count


def load_reference_data(session: Session, data_dir: Path = DATA_DIR) -> LoadReport:
    """Load regions, methods and every catalogue edition listed in ``editions.csv``."""
    report = LoadReport()
    report.regions = load_regions(session, data_dir / "regions.csv")
    report.methods = load_methods(session, data_dir / "treatment_methods.csv")
    for meta in _rows(data_dir / "editions.csv"):
        codes, exemptions = load_edition(session, meta, data_dir)
        report.editions += 1
        report.waste_codes += codes
        report.exemptions += exemptions
    return report


def editions(session: Session) -> list[tuple[CatalogEdition, int]]:
    """Every edition with its number of codes, newest first."""
    counts = dict(
        session.execute(
            select(WasteCode.edition_code, func.count(WasteCode.id)).group_by(
                WasteCode.edition_code
            )
        ).all()
    )
    rows = session.scalars(select(CatalogEdition).order_by(CatalogEdition.effective_from.desc()))
    return [(row, int(counts.get(row.code, 0))) for row in rows]


def reference_data_loaded(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(WasteCode)))


# -- queries ------------------------------------------------------------------------------


def edition_on(session: Session, on_date: date) -> CatalogEdition | None:
    """The edition in force on ``on_date``: latest ``effective_from`` not after it."""
    return session.scalars(
        select(CatalogEdition)
        .where(CatalogEdition.effective_from <= on_date)
        .order_by(CatalogEdition.effective_from.desc())
        .limit(1)
    ).first()


def get_waste_code(session: Session, code: str, on_date: date) -> WasteCode | None:
    edition = edition_on(session, on_date)
    if edition is None:
        return None
    return session.scalars(
        select(WasteCode).where(WasteCode.edition_code == edition.code, WasteCode.code == code)
    ).first()


@dataclass
class SearchResult:
    rows: list[WasteCode]
    total: int


SYNONYMS_FILE = DATA_DIR / "waste_synonyms.csv"


@lru_cache(maxsize=1)
def synonyms() -> dict[str, dict[str, int]]:
    """Everyday names (俗称) → waste code → rank (1 first), from ``waste_synonyms.csv``."""
    table: dict[str, dict[str, int]] = {}
    for row in _rows(SYNONYMS_FILE):
        table.setdefault(row["term"], {})[row["waste_code"]] = int(row["rank"])
    return table


def _synonym_ranks(q: str) -> dict[str, int]:
    """Codes an everyday name points to: the exact term first, then terms containing what
    was typed ("机油" → 废机油) or contained in it ("废机油桶" → 废机油)."""
    ranks: dict[str, int] = {}
    for term, codes in synonyms().items():
        if term == q:
            extra = 0
        elif q in term or term in q:
            extra = 10
        else:
            continue
        for code, rank in codes.items():
            ranks[code] = min(ranks.get(code, 999), rank + extra)
    return ranks


def _score(
    row: WasteCode, q: str, dashed: str | None, hw: str | None, ranks: dict[str, int]
) -> int:
    """How well ``row`` answers ``q``: an exact code 1000, a code prefix 900, the HW
    category 800, an everyday name 700 − rank, the description 500 − where it matches,
    every word somewhere 300, the category's or the industry's name 250 / 200; 0: no match."""
    score = 0
    if dashed and row.code.startswith(dashed):
        score = 1000 if row.code == dashed else 900
    if hw and row.category == hw:
        score = max(score, 800)
    if row.code in ranks:
        score = max(score, 700 - ranks[row.code])
    text = q.lower()
    description = row.description.lower()
    position = description.find(text)
    if position >= 0:
        score = max(score, 500 - min(position, 99))
    else:
        words = text.split()
        haystack = " ".join((description, row.category_name, row.industry_source)).lower()
        if len(words) > 1 and all(w in haystack for w in words):
            score = max(score, 300)
    if text in row.category_name.lower():
        score = max(score, 250)
    if text in row.industry_source.lower():
        score = max(score, 200)
    return score


def rank_waste_codes(
    session: Session,
    q: str,
    on_date: date,
    category: str | None = None,
    offset: int = 0,
    limit: int | None = 20,
) -> SearchResult:
    """Search the edition in force, best answer first, with the number of matches.

    ``q`` may be a code or its start (``900-249``, ``90024908``), an HW category (``HW08``),
    an everyday name (``废机油``, ``实验室废液``: ``waste_synonyms.csv``) or words of the
    description; an empty ``q`` lists the edition (optionally one category) in printed order.
    """
    edition = edition_on(session, on_date)
    if edition is None:
        return SearchResult([], 0)
    stmt = select(WasteCode).where(WasteCode.edition_code == edition.code)
    if category:
        stmt = stmt.where(WasteCode.category == category.upper())
    rows = list(session.scalars(stmt.order_by(WasteCode.id)))
    q = " ".join((q or "").split())
    if q:
        compact = q.replace("-", "").replace(" ", "")
        dashed = (
            "-".join(filter(None, [compact[:3], compact[3:6], compact[6:8]]))
            if compact.isdigit()
            else None
        )
        hw = f"HW{int(q[2:]):02d}" if q.upper().startswith("HW") and q[2:].isdigit() else None
        ranks = _synonym_ranks(q)
        scored = [(_score(row, q, dashed, hw, ranks), i, row) for i, row in enumerate(rows)]
        rows = [row for score, _i, row in sorted(scored, key=lambda t: (-t[0], t[1])) if score]
    end = None if limit is None else offset + limit
    return SearchResult(rows[offset:end], len(rows))


def search_waste_codes(
    session: Session, q: str, on_date: date, category: str | None = None, limit: int | None = 50
) -> list[WasteCode]:
    """The first ``limit`` answers of :func:`rank_waste_codes` (``None``: all)."""
    return rank_waste_codes(session, q, on_date, category, 0, limit).rows


def categories(session: Session, on_date: date) -> list[WasteCategory]:
    edition = edition_on(session, on_date)
    if edition is None:
        return []
    return list(
        session.scalars(
            select(WasteCategory)
            .where(WasteCategory.edition_code == edition.code)
            .order_by(WasteCategory.code)
        )
    )


def methods(session: Session) -> list[TreatmentMethod]:
    return list(session.scalars(select(TreatmentMethod).order_by(TreatmentMethod.code)))


def region_path(session: Session, code: str) -> list[Region]:
    """The region and its ancestors, top-down (province first)."""
    path: list[Region] = []
    region = session.get(Region, code)
    while region is not None:
        path.insert(0, region)
        region = region.parent
    return path


def region_label(session: Session, code: str) -> str:
    return " ".join(r.name for r in region_path(session, code))


def search_regions(session: Session, q: str, limit: int = 30) -> list[Region]:
    q = (q or "").strip()
    if not q:
        return []
    stmt = select(Region).where(
        or_(Region.code.startswith(q, autoescape=True), Region.name.icontains(q, autoescape=True))
    )
    return list(session.scalars(stmt.order_by(Region.code).limit(limit)))


def exemptions_for(session: Session, code: str, category: str, edition: str) -> Iterable[Exemption]:
    return session.scalars(
        select(Exemption)
        .where(
            Exemption.edition_code == edition,
            or_(
                Exemption.waste_code_or_category.contains(code),
                Exemption.waste_code_or_category == category,
            ),
        )
        .order_by(Exemption.id)
    )
