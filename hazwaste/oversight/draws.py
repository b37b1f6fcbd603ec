"""双随机 inspection draws: N enterprises picked at random, inspectors assigned at random.

Reproducible by construction: the draw is a pure function of a seed and its inputs in a
canonical order (candidates and inspectors sorted by id), computed with
``random.Random(seed)``. The stored draw keeps both, so anyone can re-run it
(:func:`verify`) and see the same list. The seed comes from :mod:`secrets` unless given.

Weighted draws (by risk score) pick without replacement: each pick chooses a remaining
candidate with probability weight / remaining total weight. Weight = 1 + risk score, so an
enterprise without flags can still be drawn (双随机 covers everybody).
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization, User, UserRole
from hazwaste.audit import services as audit
from hazwaste.errors import Invalid, NotFound
from hazwaste.oversight import risk, scope
from hazwaste.oversight.models import InspectionDraw

INSPECTORS_PER_ENTERPRISE = 2
ALGORITHM = "weighted-without-replacement/v1"


def pick(seed: str, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The draw itself: deterministic for a given ``seed`` and ``inputs``.

    ``inputs``: ``candidates`` ([{"id", "weight"}] sorted by id; weights decimal strings),
    ``inspectors`` (user ids sorted), ``n``, ``per_enterprise``. Returns the picks in draw
    order: [{"organization_id", "inspector_ids"}].
    """
    rng = random.Random(seed)
    remaining = [(int(c["id"]), Decimal(str(c["weight"]))) for c in inputs["candidates"]]
    inspectors = [int(i) for i in inputs["inspectors"]]
    per = min(int(inputs["per_enterprise"]), len(inspectors))
    picks: list[dict[str, Any]] = []
    for _i in range(min(int(inputs["n"]), len(remaining))):
        total = sum(w for _id, w in remaining)
        # A float in [0, total): weights are scores, not quantities; float is exact enough
        # and the same on every platform for the same seed.
        target = Decimal(repr(rng.random())) * total
        acc = Decimal(0)
        index = len(remaining) - 1
        for i, (_id, w) in enumerate(remaining):
            acc += w
            if target < acc:
                index = i
                break
        org_id, _w = remaining.pop(index)
        chosen = sorted(rng.sample(inspectors, per)) if per else []
        picks.append({"organization_id": org_id, "inspector_ids": chosen})
    return picks


@dataclass
class DrawRequest:
    n: int
    role: str | None = None  # producer / carrier / receiver
    region: str | None = None
    weighting: str = "uniform"  # or "risk"
    inspectors: str = "inspectors"  # or "all" (every user of the body)
    seed: str | None = None


def candidates(
    session: Session, now: datetime, user: User, req: DrawRequest
) -> list[dict[str, Any]]:
    prefix = scope.region_prefix(user, req.region)
    stmt = select(Organization.id).where(scope.org_in(prefix), Organization.status == "approved")
    if req.role == "producer":
        stmt = stmt.where(Organization.is_producer.is_(True))
    elif req.role == "carrier":
        stmt = stmt.where(Organization.is_carrier.is_(True))
    elif req.role == "receiver":
        stmt = stmt.where(Organization.is_receiver.is_(True))
    ids = sorted(session.scalars(stmt))
    weights = {i: Decimal(1) for i in ids}
    if req.weighting == "risk":
        for rating in risk.ratings(session, now, prefix):
            if rating.organization_id in weights:
                weights[rating.organization_id] = Decimal(1) + rating.score
    return [{"id": i, "weight": format(weights[i].normalize(), "f")} for i in ids]


def inspector_ids(session: Session, user: User, which: str) -> list[int]:
    stmt = select(User.id).where(
        User.regulator_body_id == user.regulator_body_id, User.active.is_(True)
    )
    if which != "all":
        stmt = stmt.where(User.role == UserRole.INSPECTOR)
    return sorted(session.scalars(stmt))


def create(session: Session, now: datetime, user: User, req: DrawRequest) -> InspectionDraw:
    """Draw, store and audit. :class:`Invalid` (field messages) when there is nobody to draw
    from or no inspector; :class:`Forbidden` for non-regulators."""
    scope.prefix_of(user)
    cands = candidates(session, now, user, req)
    if not cands:
        msg = _("No enterprise matches these filters.")
        raise Invalid(msg, {"role": [msg]})
    inspectors = inspector_ids(session, user, req.inspectors)
    if not inspectors:
        msg = _("Your body has no inspector to assign; choose all users.")
        raise Invalid(msg, {"inspectors": [msg]})
    inputs = {
        "algorithm": ALGORITHM,
        "n": req.n,
        "per_enterprise": INSPECTORS_PER_ENTERPRISE,
        "role": req.role or "",
        "region": scope.region_prefix(user, req.region),
        "weighting": req.weighting,
        "candidates": cands,
        "inspectors": inspectors,
    }
    seed = req.seed or secrets.token_hex(16)
    result = pick(seed, inputs)
    assert user.regulator_body_id is not None
    draw = InspectionDraw(
        regulator_body_id=user.regulator_body_id,
        created_by_id=user.id,
        created_at=now,
        seed=seed,
        inputs=json.dumps(inputs, sort_keys=True, separators=(",", ":")),
        result=json.dumps(result, sort_keys=True, separators=(",", ":")),
    )
    session.add(draw)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="inspection_draw.created",
        object_type="inspection_draw",
        object_id=draw.id,
        payload={"seed": seed, "n": req.n, "picked": [p["organization_id"] for p in result]},
    )
    return draw


def get(session: Session, user: User, draw_id: int) -> InspectionDraw:
    """A draw of the user's own body; :class:`NotFound` for any other."""
    scope.prefix_of(user)
    draw = session.get(InspectionDraw, draw_id)
    if draw is None or draw.regulator_body_id != user.regulator_body_id:
        raise NotFound()
    return draw


def get_public(session: Session, draw_id: int) -> InspectionDraw:
    """Any stored draw, for its public page (双随机一公开: the seed, the candidates, the
    method and the result are published so that anyone can re-run it); :class:`NotFound`
    if there is none."""
    draw = session.get(InspectionDraw, draw_id)
    if draw is None:
        raise NotFound()
    return draw


def listing(session: Session, user: User, limit: int = 50) -> list[InspectionDraw]:
    scope.prefix_of(user)
    return list(
        session.scalars(
            select(InspectionDraw)
            .where(InspectionDraw.regulator_body_id == user.regulator_body_id)
            .order_by(InspectionDraw.id.desc())
            .limit(limit)
        )
    )


def verify(draw: InspectionDraw) -> tuple[bool, list[dict[str, Any]]]:
    """Re-run the stored draw; (matches, recomputed result)."""
    again = pick(draw.seed, json.loads(draw.inputs))
    return again == json.loads(draw.result), again


def names(session: Session, draw: InspectionDraw) -> dict[str, dict[int, str]]:
    """Organization and inspector names for showing a draw."""
    inputs = json.loads(draw.inputs)
    org_ids = [c["id"] for c in inputs["candidates"]]
    orgs = {
        int(r[0]): str(r[1])
        for r in session.execute(
            select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))
        )
    }
    users = {
        int(r[0]): str(r[1])
        for r in session.execute(
            select(User.id, User.name).where(User.id.in_(inputs["inspectors"]))
        )
    }
    return {"orgs": orgs, "users": users}
