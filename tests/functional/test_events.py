"""Domain events: published in the caller's transaction as one outbox row, handed to every
subscriber after commit, at most once per key; e-mail leaves through the outbox too."""

from __future__ import annotations

import logging

import pytest

from hazwaste import events, mail
from hazwaste.events import types
from hazwaste.jobs.models import JobStatus, OutboxJob


@pytest.fixture()
def received_events(monkeypatch):
    seen: list[events.Event] = []
    monkeypatch.setitem(events._SUBSCRIBERS, "test", lambda session, now, event: seen.append(event))
    return seen


def test_event_reaches_subscribers_only_after_commit_with_its_parties(
    session, now, run_jobs, received_events
):
    event = events.publish(
        session,
        now,
        types.MANIFEST_PICKED_UP,
        subject_kind="manifest",
        subject_id=7,
        organization_ids=[3, 1, None, 3],
        actor_id=5,
        data={"number": "M-1", "quantity": "1.250"},
    )
    assert received_events == []
    run_jobs(now)
    assert [e.id for e in received_events] == [event.id]
    got = received_events[0]
    assert got.organization_ids == (1, 3)
    assert got.data == {"number": "M-1", "quantity": "1.250"}
    assert got.occurred_at == now.replace(tzinfo=None)
    assert got.type == "manifest.picked_up"


def test_rolled_back_event_is_never_delivered(session, now, run_jobs, received_events):
    events.publish(session, now, types.FLAG_RAISED, subject_kind="flag", subject_id=1)
    session.rollback()
    run_jobs(now)
    assert received_events == []


def test_same_key_publishes_once(session, now, run_jobs, received_events):
    for _ in range(2):
        events.publish(
            session, now, types.RECEIPT_DUE, subject_kind="manifest", subject_id=9, key="due:9"
        )
    run_jobs(now)
    assert len(received_events) == 1


def test_unknown_type_is_refused_at_the_call_site(session, now):
    with pytest.raises(events.UnknownEventType):
        events.publish(session, now, "manifest.teleported", subject_kind="manifest", subject_id=1)


def test_console_mail_is_logged_after_commit(session, now, run_jobs, caplog):
    mail.send(session, now, "a@example.com", "联单已收货", "正文", key="k1")
    mail.send(session, now, "a@example.com", "联单已收货", "正文", key="k1")
    with caplog.at_level(logging.INFO, logger="hazwaste.mail"):
        run_jobs(now)
    sent = [r for r in caplog.records if r.name == "hazwaste.mail"]
    assert len(sent) == 1
    assert "a@example.com" in sent[0].getMessage()


def test_unreachable_smtp_server_retries(app, session, now, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "smtp://127.0.0.1:1")
    mail.send(session, now, "a@example.com", "s", "t")
    assert run_jobs(now) == {"retry": 1}
    job = session.query(OutboxJob).filter_by(kind=mail.SEND).one()
    assert job.status is JobStatus.PENDING and job.attempts == 1
    assert "ConnectionRefused" in job.last_error


def test_events_that_came_with_it_share_one_row_and_arrive_as_their_own(
    session, now, run_jobs, received_events
):
    event = events.publish(
        session,
        now,
        types.MANIFEST_RECEIVED,
        subject_kind="manifest",
        subject_id=4,
        organization_ids=[1],
        also=[types.MANIFEST_REJECTED, types.MANIFEST_RECEIVED],
    )
    assert session.query(OutboxJob).count() == 1
    run_jobs(now)
    assert [(e.id, e.type) for e in received_events] == [
        (event.id, types.MANIFEST_RECEIVED),
        (f"{event.id}-1", types.MANIFEST_REJECTED),
    ]
    assert {e.subject_id for e in received_events} == {4}


def test_unknown_type_among_the_others_is_refused_too(session, now):
    with pytest.raises(events.UnknownEventType):
        events.publish(
            session,
            now,
            types.MANIFEST_RECEIVED,
            subject_kind="manifest",
            subject_id=1,
            also=["manifest.lost"],
        )
