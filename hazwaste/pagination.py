"""Page-number pagination shared by list pages and API lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

#: Highest page number a list accepts (the OFFSET stays far inside 64 bits).
PAGE_MAX = 2**31 - 1


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    args: dict[str, Any] = field(default_factory=dict)  # filters to carry into page links

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def meta(self) -> dict[str, int]:
        return {
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "pages": self.pages,
        }


def paginate(
    session: Session,
    stmt: Select[Any],
    page: int,
    per_page: int,
    args: dict[str, Any] | None = None,
    scalars: bool = True,
) -> Page[Any]:
    """Run ``stmt`` for one page (1-based); ``total`` counts the whole filtered result."""
    page = min(max(1, page), PAGE_MAX)  # the schemas refuse others; never an overflow here
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    result = session.execute(paged)
    items = list(result.scalars().all() if scalars else result.all())
    clean_args = {k: v for k, v in (args or {}).items() if v not in (None, "", [])}
    return Page(items, page, per_page, total, clean_args)
