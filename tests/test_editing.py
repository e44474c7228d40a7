"""Editing: authors fix their messages, and every reader gets the change as an update event."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from flask_webchat.models import ChatMessage
from flask_webchat.signals import message_edited
from hosts import EVERY_DATABASE, Browser, Host, MakeHost

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def test_an_author_edits_their_message_and_readers_get_an_update(
    host: Host, browser: Browser
) -> None:
    reader = host.browser()
    stream = reader.open_page()
    message = browser.say("helo")
    first = reader.poll(stream)
    assert [m["content"] for m in first["messages"]] == ["helo"]
    assert first["messages"][0]["edited_at"] is None and first["updated"] == []

    response = browser.edit(message, "  hello  ")
    assert response.status_code == 200, response.json
    assert response.json["content"] == "hello"
    assert response.json["edited_at"].endswith("Z")

    second = reader.poll(stream)
    assert second["messages"] == [] and second["deleted"] == []
    assert [(m["id"], m["content"]) for m in second["updated"]] == [(message, "hello")]
    assert int(second["cursor"]) > int(first["cursor"])
    assert reader.poll(stream)["updated"] == []  # exactly once
    # The history and the message's own URL show the current state.
    history = reader.client.get("/chat/messages/history").json["messages"]
    assert [m["content"] for m in history] == ["hello"]
    assert reader.client.get(f"/chat/messages/{message}").json["content"] == "hello"


def test_an_update_is_an_sse_event_at_its_own_cursor(host: Host, browser: Browser) -> None:
    message = browser.say("draft")
    events = browser.events(after="0")
    try:
        posted = events.take(1)[0]
        assert browser.edit(message, "final").status_code == 200
        update = events.take(1)[0]
    finally:
        events.close()
    assert posted.type == "message"
    assert update.type == "update" and update.data["content"] == "final"
    assert int(update.id) > int(posted.id)
    # Resuming from the update's id finds nothing more.
    assert browser.poll(after=update.id)["updated"] == []


def test_others_may_not_edit_unknown_and_deleted_are_404(host: Host, browser: Browser) -> None:
    message = browser.say("mine")
    stranger = host.browser()
    refused = stranger.edit(message, "yours now")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert browser.edit(999999, "x").status_code == 404
    assert browser.delete(message).status_code == 204
    gone = browser.edit(message, "again")
    assert gone.status_code == 404 and gone.json["error"]["code"] == "message_not_found"
    assert [m.content for m in host.stored_messages()] == []


def test_an_edit_is_validated_and_filtered_like_a_post(host: Host, browser: Browser) -> None:
    message = browser.say("fine")

    @host.webchat.message_filter
    def mask(content: str, room: str, identity: Any) -> str:
        return content.replace("darn", "****")

    for body in ({"content": "   "}, {"content": "x" * 1025}, {}):
        response = browser.client.patch(f"/chat/messages/{message}", json=body)
        assert response.status_code == 422, body
        assert "content" in response.json["error"]["fields"]
    assert browser.edit(message, "oh darn").json["content"] == "oh ****"
    assert [m.content for m in host.stored_messages()] == ["oh ****"]


def test_a_signed_in_author_edits_from_anywhere(host: Host) -> None:
    host.add_user("alice")
    laptop, phone = host.browser(), host.browser()
    laptop.login("alice")
    phone.login("alice")
    message = laptop.say("from my laptop")
    assert phone.edit(message, "from my phone").status_code == 200


def test_an_anonymous_author_edits_only_from_the_session_that_posted(host: Host) -> None:
    author = host.browser()
    message = author.say("typo", username="ann")
    namesake = host.browser()
    namesake.say("hi", username="ann")
    assert namesake.edit(message, "fixed").status_code == 403


def _age(host: Host, message_id: int, seconds: float) -> None:
    with host.app.app_context():
        message = host.db.session.get(ChatMessage, message_id)
        assert message is not None
        message.created_at -= timedelta(seconds=seconds)
        host.db.session.commit()


def test_the_edit_window_closes_and_a_hook_may_widen_it(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_EDIT_WINDOW=60)
    author = host.browser()
    message = author.say("old")
    _age(host, message, 61)
    late = author.edit(message, "too late")
    assert late.status_code == 403
    assert "no longer" in late.json["error"]["message"]

    host.add_user("mod", moderator=True)

    @host.webchat.edit_permission
    def moderators(message: ChatMessage, identity: Any) -> bool | None:
        return True if identity is not None and identity.user.is_moderator else None

    moderator = host.browser()
    moderator.login("mod")
    assert moderator.edit(message, "moderated").status_code == 200
    assert author.edit(message, "still late").status_code == 403


def test_no_edit_window_means_always(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_EDIT_WINDOW=None)
    author = host.browser()
    message = author.say("old")
    _age(host, message, 10 * 365 * 24 * 3600)
    assert author.edit(message, "still mine").status_code == 200


def test_host_code_edits_and_the_signal_fires_after_the_commit(host: Host) -> None:
    received: list[tuple[str, str]] = []

    def receive(app: Any, message: ChatMessage, room: str, identity: Any) -> None:
        received.append((message.content, room))

    message_edited.connect(receive, host.app)
    try:
        with host.app.app_context():
            posted = host.webchat.post_message("deploy started", system=True)
            edited = host.webchat.edit_message(posted.id, "deploy finished")
    finally:
        message_edited.disconnect(receive, host.app)
    assert edited.content == "deploy finished" and edited.edited_at is not None
    assert received == [("deploy finished", "lobby")]


def test_a_long_poll_wakes_for_an_edit(host: Host, browser: Browser) -> None:
    message = browser.say("before")
    cursor = browser.poll(after="0")["cursor"]
    answers: list[dict[str, Any]] = []
    reader = host.browser()
    waiting = threading.Thread(
        target=lambda: answers.append(reader.poll(after=cursor, wait=10)), daemon=True
    )
    waiting.start()
    browser.edit(message, "after")
    waiting.join(10)
    assert [m["content"] for m in answers[0]["updated"]] == ["after"]


@pytest.mark.parametrize("limit", [1, 2])
def test_a_batch_cut_at_its_limit_loses_no_update(host: Host, browser: Browser, limit: int) -> None:
    first = browser.say("one")
    second = browser.say("two")
    browser.edit(first, "one!")
    browser.delete(second)
    browser.edit(first, "one!!")
    seen: dict[int, str] = {}
    cursor, rounds = "0", 0
    while True:
        batch = browser.poll(after=cursor, limit=limit)
        for message in [*batch["messages"], *batch["updated"]]:
            seen[message["id"]] = message["content"]
        for gone in batch["deleted"]:
            seen.pop(gone, None)
        rounds += 1
        cursor = batch["cursor"]
        if not batch["more"]:
            break
    assert seen == {first: "one!!"}
    assert rounds > 1
