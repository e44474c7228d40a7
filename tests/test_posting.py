"""Posting: what is accepted, what is refused, and that a refusal stores nothing."""

from __future__ import annotations

import io
import json

import pytest

from hosts import EVERY_DATABASE, Browser, Host, MakeHost

# What is accepted or refused is decided before storage; MariaDB runs too, for its own limits
# on text (the round trip of any text is test_properties's, on every database).
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def test_a_post_is_created_with_location_and_stored(host: Host, browser: Browser) -> None:
    response = browser.post("  Hello, world!  \n", username="  Ann ")
    assert response.status_code == 201
    body = response.json
    assert body["content"] == "Hello, world!"
    assert body["username"] == "Ann"
    assert body["mine"] is True and body["can_delete"] is True
    assert response.headers["Location"] == f"/chat/messages/{body['id']}"
    assert browser.client.get(response.headers["Location"]).json == body

    [stored] = host.stored_messages()
    assert (stored.id, stored.content, stored.username) == (body["id"], "Hello, world!", "Ann")
    assert stored.author_id is None


def test_line_breaks_inside_a_message_are_kept(browser: Browser) -> None:
    response = browser.post("first line\r\nsecond line\n\tindented")
    assert response.json["content"] == "first line\nsecond line\n\tindented"


@pytest.mark.parametrize(
    "text",
    ["x" * 1024, "😀" * 1024, "聊天" * 512, "a\u0301" * 512],
    ids=["ascii", "emoji", "chinese", "combining"],
)
def test_content_of_1024_characters_is_accepted(browser: Browser, text: str) -> None:
    response = browser.post(text)
    assert response.status_code == 201
    assert response.json["content"] == text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "", "username": "Ann"}, "content"),
        ({"content": "   \n\t ", "username": "Ann"}, "content"),
        ({"content": "x" * 1025, "username": "Ann"}, "content"),
        ({"content": "😀" * 1025, "username": "Ann"}, "content"),
        ({"content": "nul\x00byte", "username": "Ann"}, "content"),
        ({"content": "bell\x07", "username": "Ann"}, "content"),
        ({"content": "lone \ud800 surrogate", "username": "Ann"}, "content"),
        ({"content": 42, "username": "Ann"}, "content"),
        ({"content": None, "username": "Ann"}, "content"),
        ({"username": "Ann"}, "content"),
        ({"content": "hi"}, "username"),
        ({"content": "hi", "username": ""}, "username"),
        ({"content": "hi", "username": "   "}, "username"),
        ({"content": "hi", "username": "n" * 65}, "username"),
        ({"content": "hi", "username": "line\nbreak"}, "username"),
        ({"content": "hi", "username": ["Ann"]}, "username"),
    ],
)
def test_invalid_fields_are_refused_with_422(
    host: Host, browser: Browser, body: dict, field: str
) -> None:
    response = browser.client.post("/chat/messages", json=body)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_fields"
    assert list(error["fields"]) == [field]
    assert host.stored_messages() == []


def test_a_body_that_is_not_an_object_is_refused(host: Host, browser: Browser) -> None:
    for body in ("[]", '"hello"', "3", "null"):
        response = browser.client.post("/chat/messages", data=body, content_type="application/json")
        assert response.status_code == 422, body
        assert "_schema" in response.json["error"]["fields"]
    assert host.stored_messages() == []


def test_malformed_json_is_400(host: Host, browser: Browser) -> None:
    for raw in ('{"content": "hi"', "[" * 7000 + "]" * 7000, b"\xff\xfe{"):
        response = browser.client.post("/chat/messages", data=raw, content_type="application/json")
        assert response.status_code == 400
        assert response.json["error"]["code"] == "malformed_json"
    assert host.stored_messages() == []


def test_a_body_that_is_not_json_is_415(host: Host, browser: Browser) -> None:
    response = browser.client.post("/chat/messages", data={"content": "hi", "username": "A"})
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    assert host.stored_messages() == []


def test_a_body_over_the_limit_is_413(host: Host, browser: Browser) -> None:
    padding = "x" * (16 * 1024)
    response = browser.client.post(
        "/chat/messages", json={"content": "hi", "username": "A", "padding": padding}
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "body_too_large"
    assert host.stored_messages() == []


def test_a_chunked_body_over_the_limit_is_413(host: Host, browser: Browser) -> None:
    body = json.dumps({"content": "hi", "username": "A", "padding": "x" * 20000}).encode()
    response = browser.client.post(
        "/chat/messages",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "body_too_large"
    assert host.stored_messages() == []


def test_the_hosts_lower_body_limit_still_applies(make_host: MakeHost) -> None:
    host = make_host(MAX_CONTENT_LENGTH=2000)
    response = host.browser().post("x" * 1000 + "é" * 500)  # about 2 KB of JSON
    assert response.status_code == 413
    assert response.json["error"]["code"] == "body_too_large"
    assert host.stored_messages() == []


def test_a_refused_post_leaves_no_session_behind(host: Host) -> None:
    for body in ({"content": ""}, {"content": "hi"}):
        response = host.browser().client.post("/chat/messages", json=body)
        assert response.status_code == 422
        assert "Set-Cookie" not in response.headers


def test_unknown_fields_are_ignored(host: Host, browser: Browser) -> None:
    response = browser.client.post(
        "/chat/messages",
        json={"content": "hi", "username": "A", "id": 99, "author_id": "7", "mine": True},
    )
    assert response.status_code == 201
    [stored] = host.stored_messages()
    assert (stored.id, stored.author_id) == (response.json["id"], None)
    assert stored.id != 99


def test_a_signed_in_user_posts_under_their_own_name(host: Host, browser: Browser) -> None:
    host.add_user("alice")
    browser.login("alice")
    response = browser.post("hi", username="mallory")
    assert response.status_code == 201
    assert response.json["username"] == "alice"
    assert response.json["anonymous"] is False
    [stored] = host.stored_messages()
    assert stored.username == "alice" and stored.author_id is not None
    assert browser.post("no name needed", username=None).status_code == 201


def test_anonymous_posting_can_be_switched_off(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ALLOW_ANONYMOUS=False)
    host.add_user("alice")
    anonymous, member = host.browser(), host.browser()

    refused = anonymous.post("hi", username="Ann")
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "identity_required"
    assert host.stored_messages() == []

    member.login("alice")
    assert member.post("hi").status_code == 201
    assert anonymous.poll(anonymous.open_page())["messages"][0]["content"] == "hi"
