"""Room-scoped message URLs, as REST clients build them, and error codes that tell causes apart.

A Backbone collection at ``/chat/rooms/support/messages`` reads, deletes and saves its models at
``…/messages/<id>``; a wrong URL must not look like a deleted message.
"""

from __future__ import annotations

import pytest
from flask_wtf.csrf import CSRFProtect

from flask_webchat.errors import error_classes
from hosts import SAMPLE_STACKS, Host, MakeHost

# Behaviour decided before storage, the same on every database and session backend.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS)

SUPPORT = "/chat/rooms/support/messages"


def code(response) -> str:  # type: ignore[no-untyped-def]
    return response.json["error"]["code"]  # type: ignore[no-any-return]


def test_a_rooms_message_is_read_and_deleted_at_the_rooms_url(host: Host) -> None:
    author = host.browser()
    posted = author.client.post(SUPPORT, json={"content": "help", "username": "Lee"})
    assert posted.status_code == 201
    url = f"{SUPPORT}/{posted.json['id']}"
    assert posted.headers["Location"] == url  # where a REST client looks for it, too
    assert author.client.get(url).json == posted.json
    assert author.client.delete(url).status_code == 204
    gone = author.client.get(url)
    assert (gone.status_code, code(gone)) == (404, "message_not_found")
    assert host.stored_messages() == []


def test_a_message_of_another_room_is_not_found_at_a_rooms_url(host: Host) -> None:
    author = host.browser()
    lobby = author.say("in the lobby")
    for method in ("GET", "DELETE"):
        answer = author.client.open(f"{SUPPORT}/{lobby}", method=method)
        assert (answer.status_code, code(answer)) == (404, "message_not_found")
    assert [m.id for m in host.stored_messages()] == [lobby]  # nothing deleted
    assert author.client.get(f"/chat/rooms/lobby/messages/{lobby}").status_code == 200
    assert author.client.get(f"/chat/messages/{lobby}").status_code == 200  # any room's, here


def test_a_rooms_url_for_a_room_that_may_not_exist_is_unknown_room(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=["lobby"])
    author = host.browser()
    lobby = author.say("hi")
    answer = author.client.delete(f"/chat/rooms/elsewhere/messages/{lobby}")
    assert (answer.status_code, code(answer)) == (404, "unknown_room")
    assert len(host.stored_messages()) == 1


def test_a_wrong_url_has_a_code_of_its_own(host: Host) -> None:
    author = host.browser()
    for path in ("/chat/nothing-here", f"{SUPPORT}/not-a-number", "/chat/messages/1/extra"):
        answer = author.client.delete(path)
        assert (answer.status_code, code(answer)) == (404, "unknown_route"), path
    missing = author.client.delete("/chat/messages/999")
    assert (missing.status_code, code(missing)) == (404, "message_not_found")
    wrong = author.client.put(f"{SUPPORT}/1")
    assert (wrong.status_code, code(wrong)) == (405, "method_not_allowed")


def test_a_csrf_refusal_has_a_code_of_its_own(make_host: MakeHost) -> None:
    host = make_host(before_webchat=CSRFProtect().init_app)
    refused = host.browser().client.post("/chat/streams")
    assert (refused.status_code, code(refused)) == (400, "csrf_failed")
    refused = host.browser().client.post("/chat/messages", json={"content": "x", "username": "y"})
    assert (refused.status_code, code(refused)) == (400, "csrf_failed")
    assert host.stored_messages() == []


def test_a_body_over_the_hosts_max_content_length_is_body_too_large(make_host: MakeHost) -> None:
    host = make_host(MAX_CONTENT_LENGTH=64)
    answer = host.browser().post("x" * 200)
    assert (answer.status_code, code(answer)) == (413, "body_too_large")


def test_every_error_code_names_one_cause() -> None:
    codes = [cls.code for cls in error_classes()]
    assert len(codes) == len(set(codes))
    assert "not_found" not in codes and "bad_request" not in codes
