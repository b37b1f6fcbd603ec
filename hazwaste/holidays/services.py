"""Official holiday schedules as data: parse and load a year (file, upload or API), install
the loaded schedules for :mod:`hazwaste.workdays`, and recompute what was provisional.

A schedule file is CSV, UTF-8, header ``date,kind,name``: one row per day off (``holiday``,
also ``放假``/``休``) of each holiday period and per make-up working day (``workday``, also
``上班``/``班``) — the two lists of a 国务院办公厅 notice. Loading a year replaces its days,
is audited, and queues the recompute job: every receipt due date computed from the estimate
(``receipt_due_exact`` false) is computed again, and the manifest's rules run again, so a
RECEIPT_OVERDUE flag follows the official calendar.

Each process keeps the loaded schedules for :data:`CACHE_SECONDS` (one query when it runs
out); loading a year refreshes the loading process at once and the others within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hazwaste import csvimport, workdays
from hazwaste.accounts.models import User
from hazwaste.audit import services as audit
from hazwaste.errors import Forbidden, Invalid
from hazwaste.holidays.models import DayKind, HolidayDay, HolidayYear
from hazwaste.jobs import outbox

RECOMPUTE = "holidays.recompute"
CHINA = ZoneInfo("Asia/Shanghai")
#: How long a process trusts the schedules it read from the database.
CACHE_SECONDS = 60
#: From this day of the year on, an administrator is warned if next year's schedule is
#: missing (the State Council usually publishes it in November).
WARN_FROM = (11, 1)
#: Largest schedule file (a year is about 40 rows; 2004–2026 are 771).
MAX_FILE_BYTES = 256 * 1024
MAX_ROWS = 5000
YEARS = (2000, 2100)
KINDS = {
    "holiday": DayKind.HOLIDAY,
    "放假": DayKind.HOLIDAY,
    "休": DayKind.HOLIDAY,
    "workday": DayKind.WORKDAY,
    "上班": DayKind.WORKDAY,
    "班": DayKind.WORKDAY,
}
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "holidays.csv"
#: Where the shipped file's years come from (stored with each year, shown on the page).
DATA_FILE_SOURCE = "国务院办公厅通知（据 chinese-calendar 1.11 转录）"


@dataclass
class ParsedDay:
    day: date
    kind: DayKind
    name: str


@dataclass
class YearStatus:
    year: int
    source: str  # "official", "library" or "estimate"
    document: str = ""
    loaded_at: datetime | None = None
    days_off: int = 0
    workdays: int = 0


@dataclass
class _Cache:
    read_at: float = -1e9
    key: str = ""
    years: dict[int, Any] = field(default_factory=dict)


_cache = _Cache()


# --- parsing -----------------------------------------------------------------------------


def parse(text: str) -> dict[int, list[ParsedDay]]:
    """The days of a schedule file, by year. ``Invalid`` lists every bad row (field
    ``file``, messages naming the line), and nothing is loaded: all or nothing."""
    errors: list[str] = []
    if len(text.encode()) > MAX_FILE_BYTES:
        msg = _("The file is larger than %(kb)s KB.", kb=MAX_FILE_BYTES // 1024)
        raise Invalid(msg, {"file": [msg]})
    columns, records = csvimport.read_records(text, MAX_ROWS)
    if not {"date", "kind"} <= columns:
        msg = _("The first line must name the columns: date,kind,name.")
        raise Invalid(msg, {"file": [msg]})
    by_year: dict[int, list[ParsedDay]] = {}
    seen: dict[date, int] = {}
    for number, row in records:
        line = _("Line %(n)s of the file", n=number)
        try:
            day = date.fromisoformat(row.get("date", ""))
        except ValueError:
            errors.append(
                f"{line}: " + _("“%(v)s” is not a date (YYYY-MM-DD).", v=row.get("date", "")[:20])
            )
            continue
        if not YEARS[0] <= day.year <= YEARS[1]:
            errors.append(
                f"{line}: " + _("The year must be between %(a)s and %(b)s.", a=YEARS[0], b=YEARS[1])
            )
            continue
        kind = KINDS.get(row.get("kind", "").lower())
        if kind is None:
            errors.append(f"{line}: " + _("The kind must be holiday (放假) or workday (上班)."))
            continue
        if kind is DayKind.WORKDAY and day.weekday() < 5:
            errors.append(
                f"{line}: "
                + _(
                    "%(d)s is a weekday: only a weekend day can be a make-up working day.",
                    d=day.isoformat(),
                )
            )
            continue
        name = row.get("name", "")
        if len(name) > 40:
            errors.append(f"{line}: " + _("The name is longer than 40 characters."))
            continue
        if day in seen:
            errors.append(
                f"{line}: " + _("%(d)s is already on line %(n)s.", d=day.isoformat(), n=seen[day])
            )
            continue
        seen[day] = number
        by_year.setdefault(day.year, []).append(ParsedDay(day, kind, name))
    if errors:
        raise Invalid(_("The schedule was not loaded: fix these lines."), {"file": errors})
    if not by_year:
        msg = _("The file holds no days.")
        raise Invalid(msg, {"file": [msg]})
    return by_year


# --- loading -----------------------------------------------------------------------------


def load_year(
    session: Session,
    now: datetime,
    year: int,
    days: list[ParsedDay],
    source: str,
    actor: User | None,
) -> tuple[HolidayYear, bool]:
    """Replace ``year``'s official schedule with ``days``. Returns the year and whether
    anything changed (the same schedule again changes nothing, and is not audited).
    ``actor`` None: the reference data loader. A change queues the recompute job."""
    if actor is not None and not actor.is_platform_admin:
        raise Forbidden()
    days = sorted(days, key=lambda d: d.day)
    if any(d.day.year != year for d in days):
        msg = _("Every day must be in %(y)s.", y=year)
        raise Invalid(msg, {"days": [msg]})
    wanted = [(d.day, d.kind, d.name) for d in days]
    row = session.get(HolidayYear, year)
    if row is not None:
        current = [(d.day, d.kind, d.name) for d in row.days]
        if current == wanted and (row.source == source or not source):
            return row, False
        session.execute(delete(HolidayDay).where(HolidayDay.year == year))
        row.source = source or row.source
        row.loaded_at = now
        row.loaded_by_id = actor.id if actor else None
        session.expire(row, ["days"])
    else:
        row = HolidayYear(
            year=year, source=source, loaded_at=now, loaded_by_id=actor.id if actor else None
        )
        session.add(row)
    session.flush()
    session.add_all(HolidayDay(day=d, year=year, kind=k, name=n) for d, k, n in wanted)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id if actor else None,
        action="holidays.year_loaded",
        object_type="holiday_year",
        object_id=year,
        payload={
            "source": row.source,
            "holidays": sum(1 for _d, k, _n in wanted if k is DayKind.HOLIDAY),
            "workdays": sum(1 for _d, k, _n in wanted if k is DayKind.WORKDAY),
        },
    )
    outbox.enqueue(
        session, now, RECOMPUTE, {"year": year}, key=f"{RECOMPUTE}:{year}:{now.isoformat()}"
    )
    _cache.read_at = -1e9  # this process reads the new schedule at its next use
    return row, True


def load_text(
    session: Session, now: datetime, text: str, source: str, actor: User | None
) -> dict[int, bool]:
    """Load every year of a schedule file (all or nothing). Returns year → changed."""
    return {
        year: load_year(session, now, year, days, source, actor)[1]
        for year, days in sorted(parse(text).items())
    }


def load_data_file(session: Session, now: datetime, path: Path = DATA_FILE) -> int:
    """``flask load-reference``: the project's schedules (years already loaded and equal
    are left alone; an administrator's newer upload of a year is kept). Returns the number
    of years written."""
    changed = 0
    for year, days in sorted(parse(path.read_text(encoding="utf-8")).items()):
        existing = session.get(HolidayYear, year)
        if existing is not None and existing.loaded_by_id is not None:
            continue  # loaded by an administrator: theirs wins over the shipped file
        changed += load_year(session, now, year, days, DATA_FILE_SOURCE, None)[1]
    return changed


# --- the schedules in use ----------------------------------------------------------------


def refresh(session: Session, force: bool = False) -> None:
    """Install the database's schedules in :mod:`hazwaste.workdays` if this process's copy
    is older than :data:`CACHE_SECONDS` (or ``force``); one query then, none otherwise."""
    bind = session.get_bind()
    key = str(bind.engine.url)
    fresh = time.monotonic() - _cache.read_at < CACHE_SECONDS and _cache.key == key
    if fresh and not force:
        return
    years: dict[int, tuple[set[date], set[date]]] = {}
    for year in session.scalars(select(HolidayYear.year)):
        years[year] = (set(), set())
    for day in session.scalars(select(HolidayDay)):
        off, on = years.setdefault(day.year, (set(), set()))
        (on if day.kind is DayKind.WORKDAY else off).add(day.day)
    workdays.use_schedule(years)
    _cache.read_at, _cache.key = time.monotonic(), key


def forget() -> None:
    """Drop this process's copy (tests: each test's database differs)."""
    _cache.read_at = -1e9
    workdays.use_schedule({})


def status(session: Session, years: range) -> list[YearStatus]:
    """Where each year's working days come from, with the official year's counts."""
    wanted = list(years)
    rows = {
        r.year: r for r in session.scalars(select(HolidayYear).where(HolidayYear.year.in_(wanted)))
    }
    # Days off and make-up days per year in one grouped query (not one load per year).
    counts = {
        (year, kind): n
        for year, kind, n in session.execute(
            select(HolidayDay.year, HolidayDay.kind, func.count())
            .where(HolidayDay.year.in_(wanted))
            .group_by(HolidayDay.year, HolidayDay.kind)
        )
    }
    out = []
    for year in years:
        row = rows.get(year)
        if row is not None:
            out.append(
                YearStatus(
                    year,
                    "official",
                    row.source,
                    row.loaded_at,
                    counts.get((year, DayKind.HOLIDAY), 0),
                    counts.get((year, DayKind.WORKDAY), 0),
                )
            )
        elif workdays.library_covers(year):
            out.append(YearStatus(year, "library"))
        else:
            out.append(YearStatus(year, "estimate"))
    return out


def missing_next_year(session: Session, now: datetime) -> int | None:
    """Next year, if from :data:`WARN_FROM` on its official schedule is not loaded yet."""
    today = now.astimezone(CHINA).date()
    if (today.month, today.day) < WARN_FROM:
        return None
    year = today.year + 1
    return None if session.get(HolidayYear, year) is not None else year


# --- the recompute job -------------------------------------------------------------------

#: What must be computed again when a year's schedule changes (registered by the domains
#: that keep dates computed from it: the manifests' receipt due dates).
_AFTER_LOAD: dict[str, Callable[[Session, datetime, int], int]] = {}


def after_load(name: str, fn: Callable[[Session, datetime, int], int]) -> None:
    """Register ``fn(session, now, year) -> changed`` to run in the recompute job."""
    _AFTER_LOAD[name] = fn


def recompute(session: Session, now: datetime, payload: dict[str, Any]) -> int:
    """Job handler: install the new schedules, then run every registered recompute.
    Returns how many objects changed."""
    refresh(session, force=True)
    return sum(fn(session, now, int(payload["year"])) for fn in _AFTER_LOAD.values())


def recompute_job(session: Session, now: datetime, payload: dict[str, Any]) -> None:
    recompute(session, now, payload)


def years_around(now: datetime, back: int = 2, ahead: int = 2) -> range:
    today = now.astimezone(CHINA).date()
    return range(today.year - back, today.year + ahead + 1)
