"""Signed webhooks: entitlement, a real HTTP receiver verifying with the documented snippet,
retries by the schedule, replay, SSRF refusal, disabling after 24 h, authorization."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from hazwaste import events
from hazwaste.events import types
from hazwaste.webhooks import services
from hazwaste.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.conftest import ROOT, api_token, login

_spec = importlib.util.spec_from_file_location(
    "webhook_verify", ROOT / "hazwaste/webhooks/verify_snippet.py"
)
assert _spec is not None and _spec.loader is not None
verify_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify_module)
verify = verify_module.verify


class Receiver:
    """A real HTTP server on 127.0.0.1 answering the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture()
def allow_private(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", True)


def _endpoint(session, now, user, url, kinds=(types.MANIFEST_PICKED_UP,)):
    endpoint = services.create_endpoint(session, now, user, url, list(kinds))
    session.commit()
    return endpoint


def _publish(session, now, org_ids, type=types.MANIFEST_PICKED_UP):
    event = events.publish(
        session,
        now,
        type,
        subject_kind="manifest",
        subject_id=42,
        organization_ids=org_ids,
        data={"number": "M-42"},
    )
    session.commit()
    return event


def test_signed_delivery_retry_and_replay(session, now, run_jobs, demo, receiver, allow_private):
    endpoint = _endpoint(session, now, demo.users["producer"], receiver.url)
    secret = endpoint.secret
    receiver.answers = [500]
    event = _publish(session, now, [demo.orgs["producer"].id, demo.orgs["carrier"].id])
    run_jobs(now)
    assert len(receiver.requests) == 1
    delivery = session.query(WebhookDelivery).one()
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.attempts == 1 and delivery.last_response_code == 500
    assert delivery.next_attempt_at == now + timedelta(minutes=1)
    run_jobs(now + timedelta(seconds=30))
    assert len(receiver.requests) == 1  # not due yet
    later = now + timedelta(minutes=1)
    run_jobs(later)
    assert len(receiver.requests) == 2
    session.refresh(delivery)
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 2

    headers, body = receiver.requests[-1]
    assert headers["Content-Type"] == "application/json"
    assert headers["Hazwaste-Event-Id"] == event.id
    signature = headers["Hazwaste-Signature"]
    assert signature.startswith(f"t={int(later.timestamp())},")
    payload = json.loads(body)
    assert payload["id"] == event.id and payload["type"] == "manifest.picked_up"
    assert payload["time"] == "2026-11-20T10:00:00+08:00"
    assert payload["object"] == {"kind": "manifest", "id": 42}
    assert payload["link"] == "http://localhost/manifests/42"
    assert payload["data"] == {"number": "M-42"}
    # The documented snippet: genuine is accepted (fresh t), forged and stale are refused.
    fresh = services.sign(secret, int(time.time()), body)
    assert verify(secret, body, fresh)
    assert not verify("wrong-secret", body, fresh)
    assert not verify(secret, body + b" ", fresh)
    assert not verify(secret, body, services.sign(secret, int(time.time()) - 301, body))

    services.replay(session, later, delivery)
    session.commit()
    run_jobs(later)
    assert len(receiver.requests) == 3
    assert receiver.requests[-1][0]["Hazwaste-Event-Id"] == event.id
    session.refresh(delivery)
    assert delivery.attempts == 3 and delivery.status is DeliveryStatus.DELIVERED


def test_only_entitled_endpoints_get_a_delivery(session, now, run_jobs, demo, allow_private):
    url = "http://127.0.0.1:1/hook"
    mine = _endpoint(session, now, demo.users["producer"], url)
    other = _endpoint(session, now, demo.users["producer2"], url)
    city = _endpoint(session, now, demo.users["regulator_city"], url)
    otog = _endpoint(session, now, demo.users["regulator_otog"], url)
    not_subscribed = _endpoint(
        session, now, demo.users["carrier"], url, kinds=[types.MANIFEST_RECEIVED]
    )
    # Parties: the producer (鄂托克旗 150624) and the carrier (东胜区 150602).
    _publish(session, now, [demo.orgs["producer"].id, demo.orgs["carrier"].id])
    run_jobs(now)
    got = {d.endpoint_id for d in session.query(WebhookDelivery)}
    assert got == {mine.id, city.id, otog.id}
    assert other.id not in got and not_subscribed.id not in got
    # A manifest of 东胜区 parties only: the 鄂托克旗 body is outside, the city body inside.
    session.query(WebhookDelivery).delete()
    _publish(session, now, [demo.orgs["producer2"].id, demo.orgs["carrier"].id])
    run_jobs(now)
    got = {d.endpoint_id for d in session.query(WebhookDelivery)}
    assert city.id in got and otog.id not in got


def test_failing_for_24_hours_disables_and_publishes(
    session, now, run_jobs, demo, receiver, allow_private, monkeypatch
):
    endpoint = _endpoint(session, now, demo.users["producer"], receiver.url)
    receiver.answers = [500] * 20
    seen: list[events.Event] = []
    monkeypatch.setitem(events._SUBSCRIBERS, "test", lambda s, n, e: seen.append(e))
    _publish(session, now, [demo.orgs["producer"].id])
    at = now
    for _ in range(len(services.RETRY_SCHEDULE) + 1):
        run_jobs(at)
        delivery = session.query(WebhookDelivery).one()
        if delivery.next_attempt_at is None:
            break
        at = delivery.next_attempt_at
    session.refresh(endpoint)
    assert not endpoint.active and endpoint.disabled_at is not None
    assert at - now >= services.DISABLE_AFTER
    assert delivery.status is DeliveryStatus.FAILED
    run_jobs(at)
    disabled = [e for e in seen if e.type == types.WEBHOOK_DISABLED]
    assert len(disabled) == 1
    assert disabled[0].subject_id == endpoint.id
    assert disabled[0].organization_ids == (demo.orgs["producer"].id,)
    assert disabled[0].data == {"organization_id": demo.orgs["producer"].id, "url": receiver.url}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "file:///etc/passwd",
        "ftp://example.com/x",
    ],
)
def test_ssrf_is_refused_at_registration(client, session, demo, url):
    headers = api_token(client, "producer@demo.test")
    response = client.post(
        "/api/v1/webhooks",
        json={"url": url, "event_types": [types.MANIFEST_PICKED_UP]},
        headers=headers,
    )
    assert response.status_code == 422, response.get_json()
    assert "url" in response.get_json()["error"]["fields"]
    assert session.query(WebhookEndpoint).count() == 0


def test_ssrf_is_refused_at_delivery(app, session, now, run_jobs, demo, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", True)
    _endpoint(session, now, demo.users["producer"], receiver.url)
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", False)
    _publish(session, now, [demo.orgs["producer"].id])
    run_jobs(now)
    assert receiver.requests == []
    delivery = session.query(WebhookDelivery).one()
    assert delivery.status is DeliveryStatus.PENDING and "refused" in delivery.last_error


def test_api_lifecycle_and_wrong_parties(client, session, now, run_jobs, demo, allow_private):
    admin = api_token(client, "producer@demo.test")
    created = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:1/h", "event_types": [types.MANIFEST_PICKED_UP]},
        headers=admin,
    )
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert len(data["secret"]) == 64
    wid = data["id"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{wid}", headers=admin).get_json()["data"]
    rotated = client.patch(
        f"/api/v1/webhooks/{wid}", json={"rotate_secret": True, "active": False}, headers=admin
    )
    assert rotated.status_code == 200
    assert rotated.get_json()["data"]["secret"] != data["secret"]
    assert rotated.get_json()["data"]["active"] is False
    client.patch(f"/api/v1/webhooks/{wid}", json={"active": True}, headers=admin)
    _publish(session, now, [demo.orgs["producer"].id])
    run_jobs(now)
    deliveries = client.get(f"/api/v1/webhooks/{wid}/deliveries", headers=admin).get_json()
    did = deliveries["data"][0]["id"]
    replay = f"/api/v1/webhooks/{wid}/deliveries/{did}/replay"
    paths = [
        ("get", f"/api/v1/webhooks/{wid}"),
        ("patch", f"/api/v1/webhooks/{wid}"),
        ("delete", f"/api/v1/webhooks/{wid}"),
        ("get", f"/api/v1/webhooks/{wid}/deliveries"),
        ("post", replay),
    ]
    other_org = api_token(client, "carrier@demo.test")
    body = api_token(client, "regulator@demo.test")
    member = api_token(client, "producer-staff@demo.test")
    for method, path in paths:
        for headers in (other_org, body):
            response = getattr(client, method)(path, json={}, headers=headers)
            assert response.status_code == 404, (method, path)
        assert getattr(client, method)(path, json={}, headers=member).status_code == 403
    assert client.get("/api/v1/webhooks", headers=member).status_code == 403
    assert client.post("/api/v1/webhooks", json={}, headers=member).status_code == 403
    assert client.get("/api/v1/webhooks", headers=other_org).get_json()["data"] == []
    assert client.post(replay, headers=admin).status_code == 200
    assert client.delete(f"/api/v1/webhooks/{wid}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/webhooks/{wid}", headers=admin).status_code == 404


def test_developer_page_shows_the_tested_snippet(client, session):
    import html

    page = client.get("/developers/webhooks")
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    snippet = (ROOT / "hazwaste/webhooks/verify_snippet.py").read_text()
    assert snippet.strip() in text
    assert "hmac.compare_digest" in snippet


def test_pages_for_the_admin_and_wrong_parties(client, session, now, run_jobs, demo, allow_private):
    login(client, "producer@demo.test")
    assert client.get("/webhooks").status_code == 200
    bad = client.post("/webhooks", data={"url": "file:///etc/passwd"})
    assert bad.status_code == 422
    created = client.post(
        "/webhooks",
        data={"url": "http://127.0.0.1:1/h", "event_types": [types.MANIFEST_PICKED_UP]},
    )
    assert created.status_code == 200
    endpoint = session.query(WebhookEndpoint).one()
    assert endpoint.secret in created.get_data(as_text=True)
    _publish(session, now, [demo.orgs["producer"].id])
    run_jobs(now)
    delivery = session.query(WebhookDelivery).one()
    detail = client.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "2026-11-20 10:00:00" in detail  # China time
    wid, did = endpoint.id, delivery.id
    posts = [
        f"/webhooks/{wid}/rotate",
        f"/webhooks/{wid}/active",
        f"/webhooks/{wid}/deliveries/{did}/replay",
        f"/webhooks/{wid}/delete",
    ]
    for account, status in (("carrier", 404), ("regulator", 404), ("producer-staff", 403)):
        client.post("/logout")
        login(client, f"{account}@demo.test")
        assert client.get(f"/webhooks/{wid}").status_code == status, account
        for path in posts:
            assert client.post(path, data={"active": "0"}).status_code == status, (account, path)
    assert client.get("/webhooks").status_code == 403
    client.post("/logout")
    login(client, "producer@demo.test")
    rotated = client.post(f"/webhooks/{wid}/rotate")
    session.refresh(endpoint)
    assert endpoint.secret in rotated.get_data(as_text=True)
    assert client.post(f"/webhooks/{wid}/active", data={"active": "0"}).status_code == 302
    session.refresh(endpoint)
    assert not endpoint.active
    assert client.post(f"/webhooks/{wid}/deliveries/{did}/replay").status_code == 302
    assert client.post(f"/webhooks/{wid}/delete").status_code == 302
    assert client.get(f"/webhooks/{wid}").status_code == 404
