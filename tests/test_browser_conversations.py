"""Edits, replies and reactions from the page, live for another reader, in real Chromium."""

from __future__ import annotations

import pytest

from browsing import WAIT_MS, message, open_chat, send, wait_for_value

pytestmark = pytest.mark.browser


def test_an_edit_shows_live_and_up_arrow_edits_the_last_message(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    alice = open_chat(chromium, site, "Alice", errors)
    bob = open_chat(chromium, site, "Bob", errors)
    send(alice, "See you at 5")
    message(bob, "See you at 5").wait_for(timeout=WAIT_MS)
    message(alice, "See you at 5").wait_for(timeout=WAIT_MS)
    # Others' messages offer no edit.
    assert message(bob, "See you at 5").get_by_role("button", name="Edit your message").count() == 0

    box = alice.get_by_label("Message", exact=True)
    box.press("ArrowUp")
    assert box.input_value() == "See you at 5"
    box.press("Escape")  # cancels: the box empties, nothing changes
    assert box.input_value() == ""
    message(alice, "See you at 5").get_by_role("button", name="Edit your message").click()
    box.fill("See you at 6")
    box.press("Enter")

    edited = message(bob, "See you at 6")
    edited.wait_for(timeout=WAIT_MS)
    edited.get_by_text("(edited)").wait_for(timeout=WAIT_MS)
    message(bob, "See you at 5").wait_for(state="detached", timeout=WAIT_MS)
    message(alice, "See you at 6").wait_for(timeout=WAIT_MS)
    wait_for_value(box, "")
    assert errors == []


def test_a_reply_quotes_its_parent_which_is_gone_once_deleted(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    alice = open_chat(chromium, site, "Alice", errors)
    bob = open_chat(chromium, site, "Bob", errors)
    send(alice, "Lunch at the noodle place?")
    parent = message(bob, "Lunch at the noodle place?")
    parent.wait_for(timeout=WAIT_MS)
    parent.get_by_role("button", name="Reply to Alice").click()
    bob.get_by_text("Replying to Alice").wait_for(timeout=WAIT_MS)
    send(bob, "Count me in")

    reply = message(alice, "Count me in")
    reply.wait_for(timeout=WAIT_MS)
    quote = reply.get_by_role("button", name="Show the message from Alice")
    quote.wait_for(timeout=WAIT_MS)
    assert "Lunch at the noodle place?" in quote.inner_text()
    quote.click()
    message(alice, "Lunch at the noodle place?").and_(alice.locator(".is-flash")).wait_for(
        timeout=WAIT_MS
    )

    own = message(alice, "Lunch at the noodle place?").first
    own.get_by_role("button", name="Delete message from Alice").click()
    # Bob's page keeps the reply, and no trace of the deleted text, anywhere in it.
    bob_reply = message(bob, "Count me in")
    bob_reply.get_by_text("Deleted message").wait_for(timeout=WAIT_MS)
    assert "noodle" not in bob.locator("[data-webchat]").inner_text()
    assert "noodle" not in bob.locator("[data-webchat]").evaluate("node => node.innerHTML")
    assert errors == []


def test_reactions_count_live_and_the_readers_own_is_pressed(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    alice = open_chat(chromium, site, "Alice", errors)
    bob = open_chat(chromium, site, "Bob", errors)
    send(alice, "Shipped!")
    shipped = message(bob, "Shipped!")
    shipped.wait_for(timeout=WAIT_MS)

    # Keyboard only: focus the react button, open the picker, choose the first emoji.
    opener = shipped.get_by_role("button", name="React to the message from Alice")
    opener.focus()
    bob.keyboard.press("Enter")
    bob.keyboard.press("Enter")  # the picker's first emoji has the focus
    mine = shipped.locator(".webchat-reaction", has_text="👍 1")
    mine.wait_for(timeout=WAIT_MS)
    assert mine.get_attribute("aria-pressed") == "true"

    theirs = message(alice, "Shipped!").locator(".webchat-reaction", has_text="👍 1")
    theirs.wait_for(timeout=WAIT_MS)
    assert theirs.get_attribute("aria-pressed") == "false"
    theirs.click()  # Alice joins in
    message(bob, "Shipped!").locator(".webchat-reaction", has_text="👍 2").wait_for(timeout=WAIT_MS)
    pressed = message(alice, "Shipped!").locator(".webchat-reaction", has_text="👍 2")
    pressed.wait_for(timeout=WAIT_MS)
    assert pressed.get_attribute("aria-pressed") == "true"

    message(bob, "Shipped!").locator(".webchat-reaction", has_text="👍 2").click()  # Bob leaves
    message(alice, "Shipped!").locator(".webchat-reaction", has_text="👍 1").wait_for(
        timeout=WAIT_MS
    )
    assert errors == []


def test_a_deleted_message_leaves_nothing_for_screen_readers(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    alice = open_chat(chromium, site, "Alice", errors)
    bob = open_chat(chromium, site, "Bob", errors)
    send(bob, "warm up")  # Alice's page has caught up: what comes next is announced
    message(alice, "warm up").wait_for(timeout=WAIT_MS)
    send(bob, "my password is hunter2")
    message(alice, "hunter2").wait_for(timeout=WAIT_MS)
    announcer = alice.locator(".webchat-announcer")
    assert "hunter2" in announcer.inner_text()
    own = message(bob, "hunter2")
    own.wait_for(timeout=WAIT_MS)
    own.get_by_role("button", name="Delete message from Bob").click()
    message(alice, "hunter2").wait_for(state="detached", timeout=WAIT_MS)
    assert "hunter2" not in alice.locator("[data-webchat]").evaluate("node => node.innerHTML")
    assert errors == []


def test_a_message_that_mentions_the_reader_is_highlighted(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    guest = open_chat(chromium, site, "Alice", errors)
    bo = chromium.new_context().new_page()
    bo.on("pageerror", lambda exc: errors.append(str(exc)))
    bo.goto(f"{site}/chat/")
    bo.get_by_role("button", name="Sign in as Bo").click()
    bo.get_by_text("Posting as Bo").wait_for(timeout=WAIT_MS)
    bo.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)

    send(guest, "@bo can you look at this?")
    message(guest, "@bo can you look at this?").wait_for(timeout=WAIT_MS)
    send(guest, "and nobody else")
    mention = message(bo, "@bo can you look at this?")
    mention.and_(bo.locator(".is-mention")).wait_for(timeout=WAIT_MS)
    message(bo, "and nobody else").wait_for(timeout=WAIT_MS)
    assert "is-mention" not in (message(bo, "and nobody else").get_attribute("class") or "")
    shown = message(guest, "@bo can you look at this?")
    shown.wait_for(timeout=WAIT_MS)
    assert "is-mention" not in (shown.get_attribute("class") or "")
    assert errors == []
