"""The case state machine: every allowed and every refused step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hazwaste.audit.models import AuditEntry
from hazwaste.cases import lifecycle
from hazwaste.cases.models import CaseNote, CaseNoteKind
from hazwaste.errors import Conflict, Forbidden, Invalid, NotFound
from hazwaste.reconciliation.models import CaseFinding, CaseStatus
from tests import factories
from tests.unit.cases.helpers import make_flag


@pytest.fixture()
def world(session, now, demo):
    flag = make_flag(session, now, producer=demo.orgs["producer"])  # 150624 (鄂托克旗)
    return demo, flag


def reg(demo, key="regulator_city"):
    return demo.users[key]


def test_start_then_close(session, now, world):
    demo, flag = world
    user = reg(demo)
    assert lifecycle.can_start(session, user, flag)
    assert not lifecycle.can_close(session, user, flag)
    lifecycle.start(session, now, user, flag, "开始调查")
    assert flag.case_status is CaseStatus.INVESTIGATING
    assert flag.case_changed_at is not None
    assert lifecycle.can_close(session, user, flag) and lifecycle.can_refer(session, user, flag)
    later = now + timedelta(hours=1)
    lifecycle.close(session, later, user, flag, "violation", "确认违法")
    assert flag.case_status is CaseStatus.CLOSED
    assert flag.case_finding is CaseFinding.VIOLATION
    notes = lifecycle.history(session, flag)
    assert [(n.kind, n.from_status, n.to_status, n.body) for n in notes] == [
        (CaseNoteKind.TRANSITION, CaseStatus.NEW, CaseStatus.INVESTIGATING, "开始调查"),
        (CaseNoteKind.TRANSITION, CaseStatus.INVESTIGATING, CaseStatus.CLOSED, "确认违法"),
    ]
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "flag", AuditEntry.object_id == str(flag.id)
        )
    ).all()
    assert actions == ["case.start", "case.close"]


def test_refer_is_final(session, now, world):
    demo, flag = world
    user = reg(demo)
    lifecycle.start(session, now, user, flag)
    with pytest.raises(Invalid) as exc:
        lifecycle.refer(session, now, user, flag, "  ")
    assert "referral_note" in exc.value.fields
    lifecycle.refer(session, now, user, flag, "移送鄂尔多斯市公安局")
    assert flag.case_status is CaseStatus.REFERRED
    for verb in ("start", "close", "refer", "reopen"):
        assert not lifecycle.allowed(session, user, flag, verb)
    with pytest.raises(Conflict):
        lifecycle.reopen(session, now, user, flag, "再查")
    with pytest.raises(Conflict):
        lifecycle.assign(session, now, user, flag, user.id)


def test_close_requires_finding_and_note(session, now, world):
    demo, flag = world
    user = reg(demo)
    lifecycle.start(session, now, user, flag)
    with pytest.raises(Invalid) as exc:
        lifecycle.close(session, now, user, flag, "maybe", "")
    assert set(exc.value.fields) == {"finding", "note"}
    assert flag.case_status is CaseStatus.INVESTIGATING


def test_refused_transitions_from_new(session, now, world):
    demo, flag = world
    user = reg(demo)
    with pytest.raises(Conflict) as exc:
        lifecycle.close(session, now, user, flag, "explained", "x")
    assert exc.value.extra["status"] == "new"
    with pytest.raises(Conflict):
        lifecycle.refer(session, now, user, flag, "x")
    with pytest.raises(Conflict):
        lifecycle.reopen(session, now, user, flag, "x")
    with pytest.raises(Invalid):
        lifecycle.transition(session, now, user, flag, {"action": "unstart"})


def test_no_way_back_to_new_and_reopen(session, now, world):
    demo, flag = world
    user = reg(demo)
    lifecycle.start(session, now, user, flag)
    with pytest.raises(Conflict):
        lifecycle.start(session, now, user, flag)
    lifecycle.close(session, now, user, flag, "false_alarm", "误报")
    with pytest.raises(Invalid):
        lifecycle.reopen(session, now, user, flag, "")
    lifecycle.reopen(session, now, user, flag, "企业说明不实")
    assert flag.case_status is CaseStatus.INVESTIGATING
    assert flag.case_finding is None


def test_lost_race_is_conflict_naming_status(session, now, world):
    demo, flag = world
    user = reg(demo)
    # Another click already moved the row, but this copy of the flag still says "new".
    from sqlalchemy import update

    from hazwaste.reconciliation.models import Flag

    session.execute(
        update(Flag)
        .where(Flag.id == flag.id)
        .values(case_status=CaseStatus.INVESTIGATING)
        .execution_options(synchronize_session=False)
    )
    assert flag.case_status is CaseStatus.NEW
    with pytest.raises(Conflict) as exc:
        lifecycle.start(session, now, user, flag)
    assert exc.value.extra["status"] == "investigating"
    assert session.scalar(select(CaseNote.id).where(CaseNote.flag_id == flag.id)) is None


def test_enterprise_forbidden_outsider_not_found(session, now, world):
    demo, flag = world
    with pytest.raises(Forbidden):
        lifecycle.start(session, now, demo.users["producer"], flag)
    with pytest.raises(Forbidden):
        lifecycle.add_note(session, now, demo.users["producer"], flag, "x")
    # Producer 2 is in 东胜区 (150602): the 鄂托克旗 branch does not see its flag.
    other = make_flag(session, now, producer=demo.orgs["producer2"])
    otog = reg(demo, "regulator_otog")
    assert not lifecycle.can_start(session, otog, other)
    for call in (
        lambda: lifecycle.start(session, now, otog, other),
        lambda: lifecycle.add_note(session, now, otog, other, "x"),
        lambda: lifecycle.assign(session, now, otog, other, otog.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert lifecycle.can_start(session, otog, flag)


@pytest.mark.parametrize(
    ("region", "sees"),
    [("150000", True), ("150600", True), ("150624", True), ("150602", False), ("140000", False)],
)
def test_jurisdiction_levels(session, now, world, region, sees):
    demo, flag = world
    admin = demo.users["admin"]
    _, inspector = factories.regulator(session, now, admin, region_code=region)
    assert lifecycle.can_start(session, inspector, flag) is sees


def test_assign_same_body_only(session, now, world):
    demo, flag = world
    user = reg(demo)
    _, colleague = factories.regulator(session, now, demo.users["admin"], body=demo.bodies["city"])
    lifecycle.assign(session, now, user, flag, colleague.id)
    assert flag.assignee_id == colleague.id
    for wrong in (reg(demo, "regulator_otog").id, demo.users["producer"].id, 999999):
        with pytest.raises(Invalid) as exc:
            lifecycle.assign(session, now, user, flag, wrong)
        assert "assignee_id" in exc.value.fields
    lifecycle.assign(session, now, user, flag, None)
    assert flag.assignee_id is None
    kinds = [n.kind for n in lifecycle.history(session, flag)]
    assert kinds == [CaseNoteKind.ASSIGNMENT, CaseNoteKind.ASSIGNMENT]


def test_notes(session, now, world):
    demo, flag = world
    user = reg(demo)
    with pytest.raises(Invalid) as exc:
        lifecycle.add_note(session, now, user, flag, "   ")
    assert "body" in exc.value.fields
    note = lifecycle.add_note(session, now, user, flag, "电话联系企业")
    assert note.author_id == user.id and note.kind is CaseNoteKind.NOTE
    assert flag.case_status is CaseStatus.NEW
