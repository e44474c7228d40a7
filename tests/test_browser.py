"""Two people chatting in real Chromium windows through the example app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from browsing import WAIT_MS, message, open_chat, send, serving
from example_app import create_app

pytestmark = pytest.mark.browser


def test_two_people_chat_both_ways_and_deletions_disappear(chromium, site_with, transport) -> None:  # type: ignore[no-untyped-def]
    # A poll every half second, not every 2 s: the same requests, less time idle between.
    interval = {"WEBCHAT_POLL_INTERVAL": 0.5} if transport == "poll" else {}
    site = site_with(WEBCHAT_TRANSPORT=transport, **interval)
    errors: list[str] = []
    alice = open_chat(chromium, site, "Alice", errors)
    bob = open_chat(chromium, site, "Bob", errors)

    send(alice, "Hi Bob! 你好 👋")
    message(bob, "Hi Bob! 你好 👋").wait_for(timeout=WAIT_MS)
    send(bob, "Hello Alice")
    message(alice, "Hello Alice").wait_for(timeout=WAIT_MS)

    # Delete buttons only on one's own messages.
    own = bob.locator(".webchat-message", has_text="Hello Alice")
    other = bob.locator(".webchat-message", has_text="Hi Bob!")
    own.wait_for(timeout=WAIT_MS)  # Alice may see it before Bob's own stream brings it back
    assert own.get_by_role("button", name="Delete message from Bob").count() == 1
    assert other.get_by_role("button", name="Delete message from Alice").count() == 0

    own.get_by_role("button", name="Delete message from Bob").click()
    message(alice, "Hello Alice").wait_for(state="detached", timeout=WAIT_MS)
    own.wait_for(state="detached", timeout=WAIT_MS)

    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    send(alice, payload)
    message(bob, payload).wait_for(timeout=WAIT_MS)
    assert bob.locator(".webchat-messages img, .webchat-messages script").count() == 0

    bob.reload()
    bob.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    message(bob, payload).wait_for(timeout=WAIT_MS)  # the backlog shows after a reload
    assert bob.get_by_label("Your name").input_value() == "Bob"  # the name is remembered
    assert errors == []


def test_a_refused_message_keeps_the_draft_and_shows_why(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_chat(chromium, site, "Carol", errors)
    too_long = "x" * 1025
    send(page, too_long)
    page.get_by_role("status").get_by_text(
        "A message can be at most 1024 characters long."
    ).wait_for(timeout=WAIT_MS)
    assert page.get_by_label("Message", exact=True).input_value() == too_long
    assert page.locator(".webchat-message").count() == 0


def test_over_the_rate_limit_the_page_says_so_and_keeps_the_draft(  # type: ignore[no-untyped-def]
    chromium, tmp_path: Path
) -> None:
    config = {"WEBCHAT_RATE_LIMIT": "2/minute", "EXAMPLE_WELCOME": None}
    app = create_app(config, instance_path=str(tmp_path / "i"))
    with serving(app) as site:
        errors: list[str] = []
        page = open_chat(chromium, site, "Fay", errors)
        for text in ["one", "two"]:
            send(page, text)
            page.locator(".webchat-message", has_text=text).wait_for(timeout=WAIT_MS)
        send(page, "three")
        page.get_by_role("status").get_by_text("Too many messages").wait_for(timeout=WAIT_MS)
        assert page.get_by_label("Message", exact=True).input_value() == "three"
        # The browser logs the refused request itself; nothing else went wrong.
        assert [e for e in errors if "429" not in e] == []


def test_a_slow_send_is_not_sent_twice_and_guests_are_marked(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_chat(chromium, site, "Dan", errors)

    def slow_post(route):  # type: ignore[no-untyped-def]
        if route.request.method == "POST":
            time.sleep(0.5)
        route.continue_()

    page.route("**/chat/messages", slow_post)
    send(page, "only once")
    page.get_by_label("Message", exact=True).press("Enter")
    page.get_by_role("button", name="Send").click(force=True)
    mine = page.locator(".webchat-message", has_text="only once")
    mine.wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(1000)
    assert mine.count() == 1
    assert mine.locator(".webchat-guest").text_content() == "guest"
    assert errors == []


@pytest.fixture
def other_site(site: str) -> Iterator[str]:
    """A page on another origin (another loopback address) that tries to write to the chat."""
    evil = Flask("other_site")
    target = f"{site}/chat/messages"

    @evil.get("/")
    def page() -> str:
        return (
            f'<form method="post" action="{target}" enctype="text/plain">'
            '<input name=\'{"content": "from a form", "username": "x", "pad": "\' value=\'"}\'>'
            "<button>Send</button></form>"
        )

    with serving(evil, "127.0.0.2") as url:
        yield url


def test_pages_on_another_site_cannot_post_with_a_visitors_session(  # type: ignore[no-untyped-def]
    chromium, site: str, other_site: str
) -> None:
    errors: list[str] = []
    victim = open_chat(chromium, site, "Erin", errors)  # holds a chat session cookie
    send(victim, "my own message")
    victim.locator(".webchat-message", has_text="my own message").wait_for(timeout=WAIT_MS)

    attacker = victim.context.new_page()
    attacker.goto(other_site)
    with attacker.expect_response(lambda r: r.url.endswith("/chat/messages")) as fetched:
        attacker.evaluate(
            """url => fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
                   headers: {"Content-Type": "text/plain"},
                   body: JSON.stringify({content: "from fetch", username: "x"})})""",
            f"{site}/chat/messages",
        )
    assert fetched.value.status == 403
    with attacker.expect_navigation() as submitted:
        attacker.get_by_role("button", name="Send").click()
    assert submitted.value.status == 403
    assert "cross_site_request" in attacker.content()

    victim.reload()
    victim.locator(".webchat-message", has_text="my own message").wait_for(timeout=WAIT_MS)
    assert victim.locator(".webchat-message").count() == 1
    assert errors == []


def test_the_page_works_on_a_host_with_flask_wtf_csrf_protect(  # type: ignore[no-untyped-def]
    chromium, tmp_path: Path
) -> None:
    app = create_app({"EXAMPLE_WELCOME": None}, instance_path=str(tmp_path / "instance"))
    CSRFProtect(app)
    with serving(app) as site:
        errors: list[str] = []
        page = open_chat(chromium, site, "Gil", errors)
        send(page, "guarded by the host's token")
        mine = page.locator(".webchat-message", has_text="guarded by the host's token")
        mine.wait_for(timeout=WAIT_MS)
        mine.get_by_role("button", name="Delete message from Gil").click()
        mine.wait_for(state="detached", timeout=WAIT_MS)
        assert errors == []
