"""Reference data: catalogue editions, waste codes, exemptions, treatment methods, regions.

A catalogue edition is data, not code: the 2025 table loads beside the 2021 one by adding a
row to ``data/editions.csv`` and its CSV file. The edition in force on a date is the loaded
edition with the latest ``effective_from`` not after that date.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.db import Base

#: Hazard characteristics of the 名录 (footnote 1): toxicity, corrosivity, ignitability,
#: reactivity, infectivity.
HAZARD_CODES = ("T", "C", "I", "R", "In")


class CatalogEdition(Base):
    __tablename__ = "catalog_editions"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    decree: Mapped[str] = mapped_column(String(200), default="")
    effective_from: Mapped[date]
    source: Mapped[str] = mapped_column(Text, default="")

    waste_codes: Mapped[list[WasteCode]] = relationship(back_populates="edition")
    categories: Mapped[list[WasteCategory]] = relationship(back_populates="edition")


class WasteCategory(Base):
    __tablename__ = "waste_categories"
    __table_args__ = (UniqueConstraint("edition_code", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_code: Mapped[str] = mapped_column(ForeignKey("catalog_editions.code"))
    code: Mapped[str] = mapped_column(String(4))  # HW01…HW50
    name: Mapped[str] = mapped_column(String(100))

    edition: Mapped[CatalogEdition] = relationship(back_populates="categories")


class WasteCode(Base):
    __tablename__ = "waste_codes"
    __table_args__ = (
        UniqueConstraint("edition_code", "code"),
        Index("ix_waste_codes_category", "edition_code", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_code: Mapped[str] = mapped_column(ForeignKey("catalog_editions.code"))
    code: Mapped[str] = mapped_column(String(10))  # NNN-NNN-NN
    category: Mapped[str] = mapped_column(String(4))
    category_name: Mapped[str] = mapped_column(String(100))
    industry_source: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    hazard: Mapped[str] = mapped_column(String(20))  # normalised, printed order: "T,I"
    hazard_raw: Mapped[str] = mapped_column(String(20))

    edition: Mapped[CatalogEdition] = relationship(back_populates="waste_codes")

    @property
    def hazards(self) -> list[str]:
        return [h for h in self.hazard.split(",") if h]

    @property
    def compact_code(self) -> str:
        """The code without dashes, as used in container identification codes."""
        return self.code.replace("-", "")


class Exemption(Base):
    """One sub-row of 《危险废物豁免管理清单》 (item × waste × stage × condition)."""

    __tablename__ = "exemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_code: Mapped[str] = mapped_column(ForeignKey("catalog_editions.code"))
    item_no: Mapped[int]
    waste_code_or_category: Mapped[str] = mapped_column(String(200))
    waste_name: Mapped[str] = mapped_column(Text)
    exempt_stage: Mapped[str] = mapped_column(String(40))
    exemption_condition: Mapped[str] = mapped_column(Text)
    exemption_content: Mapped[str] = mapped_column(Text)


class TreatmentMethod(Base):
    """利用/处置方式 code (R/D/C, and provisional Y codes for medical waste)."""

    __tablename__ = "treatment_methods"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # 利用 / 处置 / 其他
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")

    @property
    def provisional(self) -> bool:
        return self.code.startswith("Y")


class Region(Base):
    """GB/T 2260 administrative division; jurisdiction is a prefix of ``code``."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(12))  # province / prefecture / county
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)

    parent: Mapped[Region | None] = relationship(remote_side="Region.code")

    @property
    def prefix(self) -> str:
        """The code prefix covering this region and everything below it."""
        return jurisdiction_prefix(self.code, self.level)


def jurisdiction_prefix(code: str, level: str) -> str:
    """Prefix of region codes inside a region: 2 digits (province), 4 (prefecture), 6."""
    return {"province": code[:2], "prefecture": code[:4]}.get(level, code)
