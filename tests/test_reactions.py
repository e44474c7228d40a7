"""Reactions: one emoji per reaction, counted per reader, each change an update event."""

from __future__ import annotations

from typing import Any

import pytest

from flask_webchat.reactions import MAX_DISTINCT
from flask_webchat.signals import reaction_changed
from hosts import EVERY_DATABASE, SAMPLE_STACKS, Browser, Host

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def test_readers_react_and_everyone_sees_the_counts(host: Host, browser: Browser) -> None:
    message = browser.say("ship it?")
    ann, bob = host.browser(), host.browser()
    watcher = host.browser()
    stream = watcher.open_page()
    cursor = watcher.poll(stream)["cursor"]

    assert ann.react(message, "👍").status_code == 200
    again = ann.react(message, "👍")  # idempotent
    assert again.json["reactions"] == [{"emoji": "👍", "count": 1, "mine": True}]
    answer = bob.react(message, "🎉").json
    bob.react(message, "👍")
    assert answer["reactions"] == [
        {"emoji": "👍", "count": 1, "mine": False},
        {"emoji": "🎉", "count": 1, "mine": True},
    ]

    batch = watcher.poll(stream)
    assert int(batch["cursor"]) > int(cursor)
    assert [m["reactions"] for m in batch["updated"]] == [
        [{"emoji": "👍", "count": 2, "mine": False}, {"emoji": "🎉", "count": 1, "mine": False}]
    ]
    seen = ann.client.get(f"/chat/messages/{message}").json["reactions"]
    assert seen[0] == {"emoji": "👍", "count": 2, "mine": True}

    removed = ann.react(message, "👍", add=False)
    assert removed.status_code == 200
    # An emoji ranks by its earliest reaction still standing: bob's 👍 came after his 🎉.
    assert removed.json["reactions"] == [
        {"emoji": "🎉", "count": 1, "mine": False},
        {"emoji": "👍", "count": 1, "mine": False},
    ]
    assert ann.react(message, "👍", add=False).status_code == 200  # already gone: no change
    assert [len(m["reactions"]) for m in watcher.poll(stream)["updated"]] == [2]
    assert watcher.poll(stream)["updated"] == []


@pytest.mark.parametrize("emoji", ["👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣", "❤️"])
def test_one_grapheme_cluster_is_one_emoji(browser: Browser, emoji: str) -> None:
    message = browser.say("hi")
    response = browser.react(message, emoji)
    assert response.status_code == 200, response.json
    assert response.json["reactions"] == [{"emoji": emoji, "count": 1, "mine": True}]


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@pytest.mark.parametrize("text", ["👍👍", "a", "ab", "+1", "👍 ", "%20"])
def test_anything_but_one_emoji_is_422(host: Host, browser: Browser, text: str) -> None:
    message = browser.say("hi")
    response = browser.react(message, text)
    assert response.status_code == 422
    assert "emoji" in response.json["error"]["fields"]
    assert browser.client.get(f"/chat/messages/{message}").json["reactions"] == []


def test_distinct_reactions_are_bounded(host: Host, browser: Browser) -> None:
    message = browser.say("react away")
    emoji = [chr(0x1F600 + n) for n in range(MAX_DISTINCT + 1)]
    for each in emoji[:MAX_DISTINCT]:
        assert browser.react(message, each).status_code == 200
    refused = browser.react(message, emoji[-1])
    assert refused.status_code == 422 and "emoji" in refused.json["error"]["fields"]
    # Joining a reaction already there is still fine.
    assert host.browser().react(message, emoji[0]).status_code == 200


def test_signed_in_readers_react_as_themselves(host: Host, browser: Browser) -> None:
    host.add_user("alice")
    message = browser.say("hi")
    laptop, phone = host.browser(), host.browser()
    laptop.login("alice")
    phone.login("alice")
    laptop.react(message, "👍")
    assert phone.react(message, "👍").json["reactions"] == [
        {"emoji": "👍", "count": 1, "mine": True}
    ]


def test_unknown_and_deleted_messages_are_404(host: Host, browser: Browser) -> None:
    assert browser.react(424242, "👍").status_code == 404
    message = browser.say("bye")
    browser.react(message, "👍")
    browser.delete(message)
    assert browser.react(message, "👍").status_code == 404


def test_a_reaction_is_an_sse_update_and_sends_its_signal(host: Host, browser: Browser) -> None:
    received: list[tuple[str, bool]] = []

    def receive(app: Any, *, emoji: str, added: bool, **kwargs: Any) -> None:
        received.append((emoji, added))

    message = browser.say("hi")
    events = browser.events(after="0")
    reaction_changed.connect(receive, host.app)
    try:
        events.take(1)
        host.browser().react(message, "🔥")
        update = events.take(1)[0]
    finally:
        reaction_changed.disconnect(receive, host.app)
        events.close()
    assert update.type == "update"
    assert update.data["reactions"] == [{"emoji": "🔥", "count": 1, "mine": False}]
    assert received == [("🔥", True)]
