"""Holiday API: where each year's working days come from (any token), and loading a year's
official schedule (platform administrators)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from hazwaste.api.core import (
    bp,
    current_api_user,
    load_json,
    load_query,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import document
from hazwaste.db import utcnow
from hazwaste.errors import Forbidden, NotFound
from hazwaste.extensions import db
from hazwaste.holidays import services
from hazwaste.holidays.schemas import DayOutSchema, YearInSchema, YearOutSchema
from hazwaste.holidays.services import YEARS, ParsedDay
from hazwaste.schemas import N_, BaseSchema

TAGS = ["holidays"]
YEAR_RANGE = validate.Range(*YEARS, error=N_("A year between 2000 and 2100."))


class YearsQuerySchema(BaseSchema):
    since = fields.Integer(load_default=None, strict=False, validate=YEAR_RANGE)
    until = fields.Integer(load_default=None, strict=False, validate=YEAR_RANGE)


def _checked_year(year: int) -> int:
    if not YEARS[0] <= year <= YEARS[1]:
        raise NotFound()
    return year


@bp.get("/holidays")
@token_required
@document(
    "/api/v1/holidays",
    "get",
    "Where each year's working days come from: official (loaded schedule), library "
    "(chinese-calendar) or estimate (statutory holidays only: dates computed from it are "
    "provisional); ?since=&until= (default: two years back to two ahead)",
    tags=TAGS,
    query=YearsQuerySchema,
    response=YearOutSchema,
    many=True,
)
def holiday_years() -> Any:
    args = load_query(YearsQuerySchema())
    default = services.years_around(utcnow())
    since = max(YEARS[0], args["since"] if args["since"] is not None else default.start)
    until = min(YEARS[1], args["until"] if args["until"] is not None else default.stop - 1)
    years = range(since, max(since, until) + 1)
    if len(years) > 50:
        years = range(since, since + 50)
    rows = services.status(db.session, years)
    return ok(
        YearOutSchema(many=True).dump(rows),
        count=len(rows),
        next_year_missing=services.missing_next_year(db.session, utcnow()),
    )


@bp.get("/holidays/<int:year>")
@token_required
@document(
    "/api/v1/holidays/{year}",
    "get",
    "One year's official days off and make-up working days (404 if none is loaded)",
    tags=TAGS,
    response=DayOutSchema,
    many=True,
)
def holiday_year(year: int) -> Any:
    row = db.session.get(services.HolidayYear, _checked_year(year))
    if row is None:
        raise NotFound()
    days = [{"date": d.day, "kind": d.kind.value, "name": d.name} for d in row.days]
    return ok(DayOutSchema(many=True).dump(days), count=len(days), source=row.source)


@bp.put("/holidays/<int:year>")
@token_required
@document(
    "/api/v1/holidays/{year}",
    "put",
    "Load a year's official schedule (platform administrators); provisional due dates are "
    "computed again after the commit",
    tags=TAGS,
    request=YearInSchema,
    statuses={200: "Loaded (or unchanged)", 403: "Not a platform administrator"},
)
def load_holiday_year(year: int) -> Any:
    user = current_api_user()
    if not user.is_platform_admin:
        raise Forbidden()
    _checked_year(year)
    data = load_json(YearInSchema())
    days = [
        ParsedDay(d["date"], services.KINDS[d["kind"]], d["name"].strip()) for d in data["days"]
    ]
    # The same checks as a file: one schedule in the file format, parsed.
    text = "date,kind,name\n" + "".join(
        f"{d.day.isoformat()},{d.kind.value},{d.name.replace(',', ' ')}\n" for d in days
    )
    parsed = service_call(services.parse, text)
    _row, changed = service_call(
        services.load_year,
        db.session,
        utcnow(),
        year,
        [day for year_days in parsed.values() for day in year_days],
        data["source"].strip(),
        user,
    )
    db.session.commit()
    return ok({"year": year, "changed": changed})
