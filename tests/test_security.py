"""Cross-site writes are refused, and every answer carries the headers that keep browsers safe."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from flask_webchat import Webchat
from hosts import SAMPLE_STACKS, Browser, Host, MakeHost

# Refusals and headers read the same on every database; the session backends differ in where
# the CSRF state lives, so both kinds of session store run.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS, "sqlite+cachelib")

CROSS_SITE_HEADERS = [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},  # a sibling subdomain
    {"Origin": "https://evil.example"},  # a browser without Fetch Metadata
]
OWN_SITE_HEADERS = [
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    {"Origin": "https://localhost"},  # behind a TLS proxy the app itself sees http
    {},  # curl and other non-browser clients
]


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS)
def test_a_post_from_another_site_is_403_and_stores_nothing(
    host: Host, browser: Browser, headers: dict[str, str]
) -> None:
    response = browser.client.post(
        "/chat/messages", json={"content": "hi", "username": "x"}, headers=headers
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "cross_site_request"
    assert host.stored_messages() == []


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS)
def test_a_delete_from_another_site_is_403_and_keeps_the_message(
    host: Host, browser: Browser, headers: dict[str, str]
) -> None:
    message = browser.say("mine")
    response = browser.client.delete(f"/chat/messages/{message}", headers=headers)
    assert response.status_code == 403
    assert [m.id for m in host.stored_messages()] == [message]


@pytest.mark.parametrize("headers", OWN_SITE_HEADERS)
def test_a_post_from_the_chats_own_origin_or_a_non_browser_is_accepted(
    browser: Browser, headers: dict[str, str]
) -> None:
    response = browser.client.post(
        "/chat/messages", json={"content": "hi", "username": "x"}, headers=headers
    )
    assert response.status_code == 201, response.json


def test_reading_from_another_site_is_not_a_write_and_is_allowed(browser: Browser) -> None:
    headers = {"Sec-Fetch-Site": "cross-site"}
    assert browser.client.get("/chat/messages", headers=headers).status_code == 200


def test_a_trusted_origin_may_post(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_TRUSTED_ORIGINS=["https://app.example.com"])
    browser = host.browser()
    trusted = {"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}
    untrusted = {"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com.evil"}
    body = {"content": "hi", "username": "x"}
    assert browser.client.post("/chat/messages", json=body, headers=trusted).status_code == 201
    assert browser.client.post("/chat/messages", json=body, headers=untrusted).status_code == 403


def test_the_page_has_a_strict_content_security_policy(browser: Browser) -> None:
    response = browser.client.get("/chat/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/chat/messages", None),
        ("POST", "/chat/messages", {"content": ""}),
        ("GET", "/chat/messages/123", None),
        ("GET", "/chat/no-such-page", None),
        ("PUT", "/chat/messages", None),
    ],
)
def test_json_answers_and_errors_are_never_sniffed_as_html(
    browser: Browser, method: str, path: str, body: dict | None
) -> None:
    response = browser.client.open(path, method=method, json=body)
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response.headers


def test_a_host_may_send_no_policy_or_its_own(make_host: MakeHost) -> None:
    without = make_host(WEBCHAT_CONTENT_SECURITY_POLICY=None)
    assert "Content-Security-Policy" not in without.browser().client.get("/chat/").headers

    own = make_host()

    @own.app.after_request
    def hosts_policy(response):  # type: ignore[no-untyped-def]
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        return response

    page = own.browser().client.get("/chat/")
    assert page.headers["Content-Security-Policy"] == "default-src 'none'"


@pytest.mark.parametrize("origins", ["https://a.example", ["https://a.example/path"], [3]])
def test_trusted_origins_are_checked_at_start_up(origins: object) -> None:
    app = Flask(__name__)
    app.config["WEBCHAT_TRUSTED_ORIGINS"] = origins
    with pytest.raises(ValueError, match="WEBCHAT_TRUSTED_ORIGINS"):
        Webchat().init_app(app, db=object())  # type: ignore[arg-type]


def test_a_host_using_flask_wtf_csrf_protect_gets_its_token_checked(make_host: MakeHost) -> None:
    host = make_host(before_webchat=CSRFProtect().init_app)
    browser = host.browser()
    page = browser.client.get("/chat/").text
    token = re.search(r'data-csrf-token="([^"]+)"', page)
    assert token, "the page hands the host's CSRF token to the client"
    body = {"content": "hi", "username": "x"}

    refused = browser.client.post("/chat/messages", json=body)
    assert refused.status_code == 400
    assert "CSRF" in refused.json["error"]["message"]
    assert refused.json["error"]["code"] == "csrf_failed"
    # The chat's own message, in the reader's language, rather than Flask-WTF's English one.
    chinese = browser.client.post("/chat/messages", json=body, headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 400
    assert chinese.json["error"]["message"] == "CSRF 令牌缺失或无效，请刷新页面。"  # noqa: RUF001
    assert host.stored_messages() == []

    headers = {"X-CSRFToken": token.group(1)}
    posted = browser.client.post("/chat/messages", json=body, headers=headers)
    assert posted.status_code == 201
    message = posted.json["id"]
    assert browser.client.delete(f"/chat/messages/{message}").status_code == 400
    deleted = browser.client.delete(f"/chat/messages/{message}", headers=headers)
    assert deleted.status_code == 204


def test_without_csrf_protect_the_page_carries_no_token(browser: Browser) -> None:
    assert "data-csrf-token" not in browser.client.get("/chat/").text
