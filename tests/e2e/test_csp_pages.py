"""Every page each kind of demo user reaches satisfies the Content-Security-Policy.

Chromium logs in as a producer, a carrier, a driver (on a 360 px phone, position allowed), a
receiver, a regulator, an inspector and the platform administrator, and visits as a
visitor too: the navigation, then the links found on those pages and the next level (one
page per kind of address — one manifest, one case, one licence…), plus the scan pages a QR
code opens. Downloads (PDF, CSV, XLSX, PNG, JSON) are left out. The guard of
``tests/e2e/conftest.py`` fails the test on any CSP violation, console error, page error or
failed asset; this test also fails on any page answered 4xx/5xx.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.e2e.conftest import build_live_app
from tests.e2e.test_manifest_story import PHONE, _login

pytestmark = pytest.mark.browser

EN = {"locale": "en-US", "extra_http_headers": {"Accept-Language": "en"}}
#: Depth of the crawl from the landing page and the most pages per user.
DEPTH = 3
MAX_PAGES = 45
DOWNLOAD = re.compile(r"\.(pdf|csv|xlsx|png|json)$")
#: Pages that are not pages: the language switch redirects back, logging out is a form.
SKIP = ("/lang/", "/logout")


def kind(url: str) -> str:
    """One page per kind of address: path segments holding a digit become ``*``."""
    path = urlsplit(url).path
    return "/".join("*" if re.search(r"\d", part) else part for part in path.split("/"))


def crawl(page: Any, base: str, start: list[str]) -> list[str]:
    """Breadth-first over same-site links of header and main; returns the pages visited."""
    seen_kinds: set[str] = set()
    visited: list[str] = []
    level = [base + path if path.startswith("/") else path for path in start]
    for _depth in range(DEPTH):
        found: list[str] = []
        for url in level:
            if len(visited) >= MAX_PAGES or kind(url) in seen_kinds:
                continue
            seen_kinds.add(kind(url))
            response = page.goto(url)
            assert response is not None and response.status < 400, (url, response.status)
            page.wait_for_load_state("networkidle")
            visited.append(url)
            hrefs = page.eval_on_selector_all(
                "header a[href], main a[href]", "els => els.map(e => e.href)"
            )
            for href in hrefs:
                href = href.split("#", 1)[0]
                path = urlsplit(href).path
                if (
                    href.startswith(base)
                    and not DOWNLOAD.search(path)
                    and not any(s in path for s in SKIP)
                    and "format=" not in href
                    and kind(href) not in seen_kinds
                ):
                    found.append(href)
        level = found
    return visited


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo with its history: manifests in every state, flags, cases, charts with data."""
    return build_live_app(tmp_path_factory, history=True)


@pytest.fixture(scope="module")
def scan_paths(live_app: Any) -> dict[str, str]:
    """Scan-page paths (the QR's signed URL) and ids of an in-transit and a delivered
    manifest, and one container registered for the producer so its pages exist."""
    from hazwaste.accounts.models import User
    from hazwaste.db import utcnow
    from hazwaste.extensions import db
    from hazwaste.ledger import services as ledger
    from hazwaste.manifests.models import Manifest, ManifestStatus
    from hazwaste.manifests.tokens import make_token

    paths = {}
    with live_app.app_context():
        for status in (ManifestStatus.IN_TRANSIT, ManifestStatus.DELIVERED):
            m = db.session.scalars(select(Manifest).where(Manifest.status == status)).first()
            assert m is not None and m.number, status
            paths[status.value] = f"/m/{make_token(m.id, m.number)}"
            paths[f"{status.value}_id"] = str(m.id)
        producer = db.session.scalars(select(User).where(User.email == "producer@demo.test")).one()
        row = {
            "waste_code": "900-249-08",
            "waste_name": "废矿物油",
            "physical_form": "liquid",
            "hazards": ["T", "I"],
            "main_components": "矿物油",
            "harmful_components": "苯系物",
            "packaging_type": "drum",
            "net_weight_kg": Decimal("180.5"),
            "generation_date": date(2026, 11, 2),
            "source_process": "检修",
        }
        (container,) = ledger.register_containers(
            db.session, utcnow(), producer, [row], utcnow().date()
        )
        paths["container"] = f"/c/{container.code}"
        db.session.commit()
        db.session.remove()
    return paths


#: Each user, the scan pages it opens from a QR code, and pages its crawl must have reached.
USERS = [
    (
        "producer@demo.test",
        ["container"],
        {"/manifests/*", "/containers/*", "/c/*", "/plans/", "/ledger/summary", "/flags/*"},
    ),
    ("carrier@demo.test", [], {"/manifests/*", "/permits/vehicles", "/permits/drivers"}),
    ("receiver@demo.test", ["delivered"], {"/m/*", "/manifests/*", "/permits/licences/*"}),
    (
        "regulator@demo.test",
        [],
        {
            "/oversight/balances",
            "/oversight/flows",
            "/oversight/risk",
            "/oversight/inspections/*",
            "/oversight/public/inspections/*",
            "/cases/*",
        },
    ),
    ("inspector@demo.test", [], {"/cases/", "/cases/*", "/oversight/"}),
    ("admin@demo.test", [], {"/admin/organizations", "/admin/regulators/*/users"}),
]


@pytest.mark.parametrize(
    ("email", "extra", "expected"), USERS, ids=[u[0].split("@")[0] for u in USERS]
)
def test_every_page_of_a_user_satisfies_the_policy(
    browser: Any,
    live_server: str,
    scan_paths: dict[str, str],
    email: str,
    extra: list[str],
    expected: set[str],
) -> None:
    context = browser.new_context(**EN)
    page = context.new_page()
    _login(page, live_server, email)
    if email == "regulator@demo.test":
        # A draw of its own, so the draw page and its public page are crawled too.
        page.goto(f"{live_server}/oversight/inspections")
        page.fill("#f-n", "2")
        page.fill("#f-seed", "csp-seed")
        with page.expect_navigation():
            page.click("main form[method=post] button[type=submit]")
    visited = crawl(page, live_server, ["/", page.url] + [scan_paths[k] for k in extra])
    context.close()
    assert expected <= {kind(url) for url in visited}, sorted(kind(url) for url in visited)


def test_the_manifest_pdf_opens_in_the_browser_viewer(
    browser: Any, live_server: str, scan_paths: dict[str, str]
) -> None:
    """The PDF carries the same headers (object-src 'none', frame-ancestors 'none', DENY),
    and Chromium's PDF viewer still shows it: its dark toolbar above a white page."""
    import io

    from PIL import Image

    context = browser.new_context(**EN, viewport={"width": 1000, "height": 700})
    page = context.new_page()
    _login(page, live_server, "producer@demo.test")
    response = page.goto(f"{live_server}/manifests/{scan_paths['in_transit_id']}/manifest.pdf")
    assert response is not None and response.status == 200
    headers = response.all_headers()
    assert headers["content-type"] == "application/pdf"
    assert "object-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    page.wait_for_timeout(1500)
    shot = Image.open(io.BytesIO(page.screenshot())).convert("L")
    toolbar, sheet = shot.getpixel((10, 10)), shot.getpixel((500, 350))
    assert toolbar < 90 and sheet > 200, (toolbar, sheet)
    context.close()


def test_driver_phone_pages_satisfy_the_policy(
    browser: Any, live_server: str, scan_paths: dict[str, str]
) -> None:
    phone = browser.new_context(
        **PHONE,
        **EN,
        permissions=["geolocation"],
        geolocation={"latitude": 39.6, "longitude": 109.8, "accuracy": 20},
    )
    page = phone.new_page()
    _login(page, live_server, "driver@demo.test")
    visited = crawl(page, live_server, ["/", scan_paths["in_transit"]])
    # The scan page's script ran (position filled in) under the policy.
    page.goto(live_server + scan_paths["in_transit"])
    page.wait_for_function("document.querySelector('[name=latitude]').value !== ''")
    assert page.input_value("[name=latitude]") == "39.600000"
    assert any(kind(url) == "/m/*" for url in visited)
    phone.close()


def test_visitor_pages_satisfy_the_policy(
    browser: Any, live_server: str, scan_paths: dict[str, str]
) -> None:
    context = browser.new_context(**EN)
    page = context.new_page()
    visited = crawl(
        page,
        live_server,
        ["/", "/login", "/register", scan_paths["in_transit"]],
    )
    context.close()
    assert {kind(url) for url in visited} >= {"/", "/login", "/register", "/m/*"}
