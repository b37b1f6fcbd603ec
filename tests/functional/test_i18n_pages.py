"""Language selection end to end: Accept-Language, the switcher's cookie, translated
validation messages on pages and in the API."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import login

EN_HOME = "Every hand-off of hazardous waste, recorded and checked"
ZH_HOME = "危险废物的每一次交接，均有记录、可核查"


def home(client, **headers):
    response = client.get("/", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "expected", "html_lang"),
    [
        ("en", EN_HOME, 'lang="en"'),
        ("en-GB,en;q=0.9", EN_HOME, 'lang="en"'),
        ("zh-CN", ZH_HOME, 'lang="zh-CN"'),
        ("zh-CN,zh;q=0.9,en;q=0.8", ZH_HOME, 'lang="zh-CN"'),
        ("zh", ZH_HOME, 'lang="zh-CN"'),
        ("fr-FR,fr;q=0.9,en;q=0.5", EN_HOME, 'lang="en"'),
        ("fr", ZH_HOME, 'lang="zh-CN"'),  # nothing we speak: the default, Chinese
    ],
)
def test_accept_language_picks_the_page_language(client, accept, expected, html_lang):
    page = home(client, **{"Accept-Language": accept})
    assert expected in page
    assert html_lang in page


def test_without_accept_language_pages_are_chinese(client):
    page = home(client)
    assert ZH_HOME in page
    assert EN_HOME not in page
    assert "登录" in page and "注册" in page


def test_switcher_sets_cookie_and_goes_back(client):
    response = client.get("/lang/en?next=/login", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"
    assert cookie.http_only
    set_cookie = response.headers["Set-Cookie"]
    assert "SameSite=Lax" in set_cookie and "Max-Age=" in set_cookie

    # The remembered choice wins over the browser's Accept-Language.
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Log in" in page
    assert 'lang="en"' in page

    client.get("/lang/zh_CN?next=/")
    assert ZH_HOME in home(client, **{"Accept-Language": "en"})


def test_switcher_links_are_on_every_page(client):
    page = home(client, **{"Accept-Language": "en"})
    assert "/lang/zh_CN?next=" in page and "/lang/en?next=" in page
    assert ">中文</a>" in page and ">English</a>" in page


def test_unknown_language_sets_nothing(client):
    response = client.get("/lang/xx?next=/login")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    assert client.get_cookie("lang") is None
    assert "Set-Cookie" not in response.headers


def test_unknown_language_in_cookie_is_ignored(client):
    client.set_cookie("lang", "xx")
    assert EN_HOME in home(client, **{"Accept-Language": "en"})
    assert ZH_HOME in home(client, **{"Accept-Language": "zh-CN"})


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/login",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "login",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
    ],
)
def test_switcher_does_not_follow_foreign_next(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.netloc in ("", "localhost")
    assert location.path == "/"
    assert client.get_cookie("lang").value == "en"  # the language is still switched


def test_switcher_without_next_goes_home(client):
    response = client.get("/lang/en")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/"


def test_next_keeps_query_string(client):
    response = client.get("/lang/en", query_string={"next": "/catalog/waste-codes?q=HW08"})
    assert response.location.endswith("/catalog/waste-codes?q=HW08")


@pytest.mark.parametrize(
    ("accept", "required", "length", "banner"),
    [
        ("zh-CN", "此项为必填项。", "请输入 2 至 200 个字符。", "请更正下方标出的字段。"),
        (
            "en",
            "This field is required.",
            "Enter between 2 and 200 characters.",
            "Please correct the fields marked below.",
        ),
    ],
)
def test_form_validation_messages_follow_the_language(client, accept, required, length, banner):
    response = client.post(
        "/register",
        data={"org_name": "A", "address": "", "email": "someone@example.test"},
        headers={"Accept-Language": accept},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert required in page
    assert length in page  # brace placeholders filled after translation
    assert banner in page
    assert 'value="someone@example.test"' in page  # what was typed is kept


def test_form_messages_follow_the_cookie(client):
    client.get("/lang/en")
    response = client.post("/register", data={}, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This field is required." in page
    assert "此项为必填项。" not in page


def test_login_error_is_translated(client):
    for accept, text in (
        ("zh-CN", "电子邮箱或密码错误。"),
        ("en", "Wrong e-mail address or password."),
    ):
        response = client.post(
            "/login",
            data={"email": "nobody@example.test", "password": "wrong-password"},
            headers={"Accept-Language": accept},
        )
        assert response.status_code == 422
        assert text in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "message", "required"),
    [
        ("zh-CN", "部分字段无效。", "此项为必填项。"),
        ("en", "Some fields are not valid.", "This field is required."),
        (None, "部分字段无效。", "此项为必填项。"),
    ],
)
def test_api_validation_errors_follow_accept_language(client, accept, message, required):
    headers = {"Accept-Language": accept} if accept else {}
    response = client.post("/api/v1/auth/token", json={}, headers=headers)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert error["message"] == message
    assert error["fields"]["email"] == [required]
    assert error["fields"]["password"] == [required]


@pytest.mark.parametrize(
    ("accept", "wrong", "missing"),
    [
        ("zh-CN", "电子邮箱或密码错误。", "此地址没有内容。"),
        ("en", "Wrong e-mail address or password.", "There is nothing at this address."),
    ],
)
def test_api_error_messages_follow_accept_language(client, accept, wrong, missing):
    headers = {"Accept-Language": accept}
    response = client.post(
        "/api/v1/auth/token",
        json={"email": "nobody@example.test", "password": "wrong-password"},
        headers=headers,
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == wrong

    response = client.get("/api/v1/no-such-endpoint", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == missing


def test_api_body_not_json_is_translated(client):
    response = client.post(
        "/api/v1/auth/token",
        data="not json",
        content_type="text/plain",
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["message"] == "请求体必须是 JSON 对象。"


@pytest.mark.parametrize(
    ("accept", "title", "message"),
    [
        ("zh-CN", "未找到", "此地址没有内容。"),
        ("en", "Not found", "There is nothing at this address."),
    ],
)
def test_error_pages_are_translated(client, accept, title, message):
    response = client.get("/no/such/page", headers={"Accept-Language": accept})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert title in page and message in page


def test_login_required_message_is_translated(client):
    response = client.get("/account", headers={"Accept-Language": "en"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Log in" in page
    assert "登录" not in page.split("<main", 1)[1]


def test_logged_in_pages_and_plurals_follow_the_language(client, demo):
    login(client, "producer@demo.test")
    zh = client.get("/catalog/waste-codes?q=900-041-49", headers={"Accept-Language": "zh-CN"})
    en = client.get("/catalog/waste-codes?q=900-041-49", headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 200
    zh_page, en_page = zh.get_data(as_text=True), en.get_data(as_text=True)
    assert "国家危险废物名录" in zh_page and "1 个废物代码" in zh_page
    assert "National catalogue of hazardous wastes" in en_page and "1 waste code<" in en_page

    en_all = client.get("/catalog/waste-codes?category=HW08", headers={"Accept-Language": "en"})
    assert " waste codes<" in en_all.get_data(as_text=True)

    # Hazard labels and stored codes: labels translated, codes and Chinese data unchanged.
    detail = client.get("/catalog/waste-codes/900-041-49", headers={"Accept-Language": "en"})
    assert "Toxic (T)" in detail.get_data(as_text=True)
    detail_zh = client.get("/catalog/waste-codes/900-041-49", headers={"Accept-Language": "zh"})
    assert "毒性（T）" in detail_zh.get_data(as_text=True)


def test_catalogues_load_for_every_configured_language(app):
    """Babel turns "zh_CN" into zh_Hans_CN; the catalogue must be found under that name,
    in requests and wherever code forces a locale (documents, e-mails)."""
    from flask_babel import force_locale, gettext

    expected = {"zh_CN": "登录", "en": "Log in"}
    assert set(app.config["LANGUAGES"]) == set(expected)
    with app.test_request_context("/"):
        for code, text in expected.items():
            with force_locale(code):
                assert gettext("Log in") == text
