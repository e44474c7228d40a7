"""Replies quote their parent as it is now; mentions resolve to the host's users."""

from __future__ import annotations

from typing import Any

import pytest

from flask_webchat.signals import user_mentioned
from hosts import EVERY_DATABASE, Browser, Host

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def _reply(browser: Browser, parent: int, content: str, room: str | None = None) -> Any:
    path = f"/chat/rooms/{room}/messages" if room else "/chat/messages"
    body = {"content": content, "username": "bob", "reply_to": parent}
    return browser.client.post(path, json=body)


def test_a_reply_carries_its_quote(host: Host, browser: Browser) -> None:
    parent = browser.say("Who is up for lunch?\nI know a place.", username="ann")
    response = _reply(host.browser(), parent, "me!")
    assert response.status_code == 201, response.json
    assert response.json["reply_to"] == {
        "id": parent,
        "username": "ann",
        "excerpt": "Who is up for lunch? I know a place.",
    }
    assert browser.client.get(f"/chat/messages/{parent}").json["reply_to"] is None


def test_a_reply_to_nothing_or_to_another_room_is_422(host: Host, browser: Browser) -> None:
    elsewhere = browser.client.post(
        "/chat/rooms/other/messages", json={"content": "x", "username": "a"}
    ).json["id"]
    for parent in (999999, elsewhere, 0):
        response = _reply(browser, parent, "hm")
        assert response.status_code == 422, parent
        assert "reply_to" in response.json["error"]["fields"]
    bad = browser.client.post(
        "/chat/messages", json={"content": "x", "username": "a", "reply_to": "1"}
    )
    assert bad.status_code == 422 and "reply_to" in bad.json["error"]["fields"]
    assert [m.content for m in host.stored_messages()] == ["x"]


def test_a_parents_edit_and_deletion_update_its_replies(host: Host, browser: Browser) -> None:
    parent = browser.say("secret plan", username="ann")
    reply = _reply(host.browser(), parent, "love it").json["id"]
    reader = host.browser()
    stream = reader.open_page()
    reader.poll(stream)

    browser.edit(parent, "public plan")
    batch = reader.poll(stream)
    assert {m["id"]: m["content"] for m in batch["updated"]} == {
        parent: "public plan",
        reply: "love it",
    }
    assert [m["reply_to"]["excerpt"] for m in batch["updated"] if m["id"] == reply] == [
        "public plan"
    ]

    browser.delete(parent)
    batch = reader.poll(stream)
    assert batch["deleted"] == [parent]
    assert [m["reply_to"] for m in batch["updated"]] == [
        {"id": parent, "username": None, "excerpt": None}
    ]
    history = reader.client.get("/chat/messages/history").json["messages"]
    assert "plan" not in repr(history)


def test_mentions_resolve_to_host_users_and_signal_once_each(host: Host, browser: Browser) -> None:
    host.add_user("alice")
    host.add_user("bob.smith")
    told: list[tuple[str, str]] = []

    def receive(app: Any, *, message: Any, user: Any, **kwargs: Any) -> None:
        told.append((user.name, message.content))

    user_mentioned.connect(receive, host.app)
    try:
        text = "@alice and @bob.smith, also @alice again, not @nobody nor me@alice.com."
        posted = browser.post(text).json
    finally:
        user_mentioned.disconnect(receive, host.app)
    assert [m["name"] for m in posted["mentions"]] == ["alice", "bob.smith"]
    assert all(m["id"] for m in posted["mentions"])
    assert told == [("alice", text), ("bob.smith", text)]
    assert browser.post("no one here").json["mentions"] == []
