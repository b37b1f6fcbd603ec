"""Flag visibility: the enterprise concerned and regulators over its region, nobody else."""

from datetime import timedelta

from hazwaste.reconciliation import services as recon
from tests.conftest import api_token, login
from tests.manifest_factories import make_submitted, pickup_data

EN = {"Accept-Language": "en"}


def overdue_flag(session, now, demo):
    manifest = make_submitted(session, now, demo)
    from hazwaste.manifests import lifecycle

    lifecycle.pickup(
        session,
        now,
        manifest,
        demo.users["driver"],
        pickup_data(manifest, demo.extra["vehicles"][0].id),
    )
    recon.run(session, now + timedelta(hours=60), rules=["TRANSIT_OVERDUE"])
    session.commit()
    from hazwaste.reconciliation.models import Flag

    return session.query(Flag).one()


def test_flag_pages_by_party(client, session, now, demo):
    flag = overdue_flag(session, now, demo)
    for email, status in (
        ("producer@demo.test", 200),
        ("carrier@demo.test", 200),
        ("receiver@demo.test", 200),
        ("regulator@demo.test", 200),
        ("regulator-otog@demo.test", 200),
        ("producer2@demo.test", 404),
        ("receiver2@demo.test", 404),
    ):
        login(client, email)
        assert client.get(f"/flags/{flag.id}", headers=EN).status_code == status, email
        listing = client.get("/flags/", headers=EN).get_data(as_text=True)
        assert (flag.summary in listing) == (status == 200), email
        client.post("/logout")
    assert client.get(f"/flags/{flag.id}").status_code == 302


def test_flags_api_filters_and_visibility(client, session, now, demo):
    flag = overdue_flag(session, now, demo)
    headers = api_token(client, "regulator@demo.test")
    body = client.get(
        "/api/v1/flags?rule=TRANSIT_OVERDUE&severity=high", headers=headers
    ).get_json()
    assert [f["id"] for f in body["data"]] == [flag.id]
    assert body["meta"]["total"] == 1
    assert body["data"][0]["evidence"]["number"] == flag.evidence.split('"number":"')[1][:14]
    assert client.get("/api/v1/flags?severity=urgent", headers=headers).status_code == 422
    assert client.get("/api/v1/flags?region=1501", headers=headers).get_json()["data"] == []
    other = api_token(client, "producer2@demo.test")
    assert client.get(f"/api/v1/flags/{flag.id}", headers=other).status_code == 404
    assert client.get("/api/v1/flags", headers=other).get_json()["data"] == []
    assert client.get("/api/v1/flags").status_code == 401


def test_enterprise_list_shows_how_the_case_stands(client, session, now, demo):
    from hazwaste.cases import lifecycle as cases

    flag = overdue_flag(session, now, demo)
    login(client, "producer@demo.test")
    assert ">New<" in client.get("/flags/", headers=EN).get_data(as_text=True)
    cases.start(session, now, demo.users["regulator_city"], flag, "已联系企业")
    cases.close(
        session, now, demo.users["regulator_city"], flag, "explained", "企业已说明：车辆故障"
    )
    session.commit()
    listing = client.get("/flags/", headers=EN).get_data(as_text=True)
    assert ">Closed<" in listing and "Explained by the enterprise" in listing
