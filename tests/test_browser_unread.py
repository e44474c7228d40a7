"""Read state in real Chromium: two browsers, two rooms, the divider, the badges, the title."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from browsing import WAIT_MS, message, open_chat, send

pytestmark = pytest.mark.browser


def post_over_http(site: str, content: str, room: str | None = None) -> dict[str, Any]:
    """Someone else posting, from outside any browser."""
    request = urllib.request.Request(
        f"{site}/chat/rooms/{room}/messages" if room else f"{site}/chat/messages",
        data=json.dumps({"content": content, "username": "Bob"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)  # type: ignore[no-any-return]


def unread_of(page: Any) -> dict[str, int]:
    """What the server counts for this browser, by room (as GET /rooms says)."""
    rooms = page.evaluate("() => fetch('/chat/rooms').then((answer) => answer.json())")["rooms"]
    return {room["name"]: room["unread"] for room in rooms}


def wait_for_unread(page: Any, room: str, count: int) -> None:
    """Wait until the server counts ``count`` unread messages in ``room`` for this browser."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while unread_of(page)[room] != count:
        assert time.monotonic() < deadline, f"{room}: {unread_of(page)[room]} unread, not {count}"
        page.wait_for_timeout(100)


def set_visibility(page: Any, state: str) -> None:
    """Make the page believe its tab is hidden or visible, as switching tabs does."""
    page.evaluate(
        """(state) => {
            const visibility = {get: () => state, configurable: true};
            Object.defineProperty(document, "visibilityState", visibility);
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def say_hello(page: Any) -> None:
    """Post once, as a visitor does before the chat keeps anything for their browser."""
    send(page, "hello, I am here")
    page.locator(".webchat-message.is-mine").first.wait_for(timeout=WAIT_MS)


def badge(page: Any, room: str) -> Any:
    return page.locator(f'.webchat-unread[data-room="{room}"]')


def test_two_browsers_two_rooms_badges_divider_and_marking_read(chromium, site_with) -> None:  # type: ignore[no-untyped-def]
    site = site_with(WEBCHAT_RATE_LIMIT=None, WEBCHAT_POLL_INTERVAL=0.3)
    errors: list[str] = []
    ann = open_chat(chromium, site, "Ann", errors)
    bo = open_chat(chromium, site, "Bo", errors)
    say_hello(bo)  # a browser is known to the chat, and its reading marked, once it posted
    send(ann, "hello from ann")
    message(bo, "hello from ann").wait_for(timeout=WAIT_MS)
    # Bo saw it, on screen, in a visible tab: the server has it as read.
    bo.wait_for_function(
        "() => document.querySelector('[data-webchat]').dataset.unread === '0'", timeout=WAIT_MS
    )
    wait_for_unread(bo, "lobby", 0)

    # Bo writes in the other room: Ann's switcher counts it, without a reload.
    bo.get_by_role("navigation", name="Rooms").get_by_role("link", name="#support").click()
    bo.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    send(bo, "first in support")
    # The page sends one draft at a time: Enter while a post is on its way sends nothing.
    message(bo, "first in support").wait_for(timeout=WAIT_MS)
    send(bo, "second in support")
    message(bo, "second in support").wait_for(timeout=WAIT_MS)
    badge(ann, "support").wait_for(timeout=WAIT_MS)
    support = ".webchat-unread[data-room=support]"
    ann.wait_for_function(
        f"() => document.querySelector('{support}').textContent === '2'", timeout=WAIT_MS
    )
    assert badge(ann, "lobby").is_hidden()
    assert unread_of(ann)["support"] == 2

    # Ann opens the room: a "New" divider above the first of them, and both are marked read.
    ann.get_by_role("navigation", name="Rooms").get_by_role("link", name="#support").click()
    ann.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    divider = ann.get_by_role("separator")
    divider.wait_for(timeout=WAIT_MS)
    assert divider.text_content() == "New"
    after = ann.locator(".webchat-divider + .webchat-message")
    assert "first in support" in (after.text_content() or "")
    wait_for_unread(ann, "support", 0)
    # Bo's own messages were never unread for Bo.
    assert unread_of(bo)["support"] == 0
    assert errors == []


def test_a_hidden_tab_counts_in_its_title_and_marks_nothing_until_seen(chromium, site_with) -> None:  # type: ignore[no-untyped-def]
    site = site_with(WEBCHAT_RATE_LIMIT=None, WEBCHAT_POLL_INTERVAL=0.3)
    errors: list[str] = []
    ann = open_chat(chromium, site, "Ann", errors)
    say_hello(ann)
    title = ann.title()
    set_visibility(ann, "hidden")
    post_over_http(site, "while you were away")
    post_over_http(site, "and another")
    message(ann, "and another").wait_for(timeout=WAIT_MS)
    ann.wait_for_function(f"() => document.title === '(2) {title}'", timeout=WAIT_MS)
    assert unread_of(ann)["lobby"] == 2, "on screen in a hidden tab is not read"

    set_visibility(ann, "visible")
    ann.wait_for_function(f"() => document.title === '{title}'", timeout=WAIT_MS)
    wait_for_unread(ann, "lobby", 0)
    assert errors == []


def test_a_message_scrolled_out_of_sight_stays_unread(chromium, site_with) -> None:  # type: ignore[no-untyped-def]
    site = site_with(WEBCHAT_RATE_LIMIT=None, WEBCHAT_POLL_INTERVAL=0.3)
    errors: list[str] = []
    ann = open_chat(chromium, site, "Ann", errors)
    say_hello(ann)
    for n in range(30):
        post_over_http(site, f"line {n}\n\n\n\n")
    message(ann, "line 29").wait_for(timeout=WAIT_MS)
    wait_for_unread(ann, "lobby", 0)
    # Scrolled back to the top, the reader does not see what comes next.
    ann.locator(".webchat-messages").evaluate("(list) => { list.scrollTop = 0; }")
    ann.wait_for_timeout(300)  # the observer's report of what left the screen
    post_over_http(site, "unseen below")
    message(ann, "unseen below").wait_for(timeout=WAIT_MS)
    ann.get_by_role("button", name="New messages ↓").wait_for(timeout=WAIT_MS)
    ann.wait_for_timeout(600)  # long enough for a mark to have been sent, were one due
    assert unread_of(ann)["lobby"] == 1
    ann.get_by_role("button", name="New messages ↓").click()
    wait_for_unread(ann, "lobby", 0)
    assert errors == []


def test_the_client_marks_read_and_lists_rooms_on_its_own(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    post_over_http(site, "one", room="support")
    last = post_over_http(site, "two", room="support")["cursor"]
    page = chromium.new_context().new_page()
    page.goto(f"{site}/")
    result = page.evaluate(
        """async (last) => {
            const { WebchatClient } = await import("/chat/static/webchat/client.js");
            const chat = new WebchatClient({ url: "/chat/rooms/support/messages" });
            const count = async () =>
                (await chat.rooms()).rooms.find((room) => room.name === "support").unread;
            const before = await count();
            const marked = await chat.markRead(last);
            const back = await chat.markRead("1");
            const ahead = await chat.markRead("999").catch((error) => [error.status, error.code]);
            return { before, marked, back: back.cursor, ahead, after: await count() };
        }""",
        last,
    )
    assert result == {
        "before": 2,
        "marked": {"room": "support", "cursor": last, "unread": 0, "unread_capped": False},
        "back": last,
        "ahead": [422, "invalid_fields"],
        "after": 0,
    }
