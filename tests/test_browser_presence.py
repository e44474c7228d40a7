"""Who is here and who is typing, in real Chromium: two browsers, two rooms."""

from __future__ import annotations

import pytest

from browsing import WAIT_MS, message, open_chat, send

pytestmark = pytest.mark.browser


def signed_in_page(chromium, site: str, name: str, path: str, errors: list[str]):  # type: ignore[no-untyped-def]
    """A browser signed in as the example's demo user ``name``, on the chat page at ``path``."""
    context = chromium.new_context()
    assert context.request.post(f"{site}/sign-in/{name}", form={"next": "/"}).ok
    return page_at(context, site, path, errors)


def page_at(context, site: str, path: str, errors: list[str]):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{site}{path}")
    page.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    return page


def shows(page, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(selector, has_text=text).wait_for(timeout=WAIT_MS)


def test_each_room_shows_who_is_there_and_who_is_typing(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    ana_lobby = signed_in_page(chromium, site, "Ana", "/chat/", errors)
    ana_support = page_at(ana_lobby.context, site, "/chat/rooms/support/", errors)
    zoe = open_chat(chromium, site, "Zoe", errors)  # a guest, in the lobby

    # Ana once, however many tabs; the guest counted, never named; each room its own.
    for page in (ana_lobby, zoe):
        shows(page, ".webchat-presence", "Here: Ana and 1 guest")
    shows(ana_support, ".webchat-presence", "Here: Ana")
    assert "guest" not in (ana_support.locator(".webchat-presence").text_content() or "")

    zoe.get_by_label("Message", exact=True).press_sequentially("hello th")
    shows(ana_lobby, ".webchat-typing", "Zoe is typing…")
    assert ana_support.locator(".webchat-typing").text_content() == ""  # another room
    assert zoe.locator(".webchat-typing").text_content() == ""  # never one's own
    send(zoe, "hello there")
    message(ana_lobby, "hello there").wait_for(timeout=WAIT_MS)
    ana_lobby.locator(".webchat-typing:empty").wait_for(state="attached", timeout=WAIT_MS)

    ana_support.get_by_label("Message", exact=True).press_sequentially("anyone?")
    ana_support.locator(".webchat-counter", has_text="7 / 1024").wait_for(timeout=WAIT_MS)
    assert zoe.locator(".webchat-typing").text_content() == ""  # Ana types in support
    ana_lobby.get_by_label("Message", exact=True).press_sequentially("hi Zoe")
    shows(zoe, ".webchat-typing", "Ana is typing…")

    assert errors == []
    zoe.context.close()
    ana_lobby.context.close()


def test_a_first_visit_is_one_guest_before_and_after_its_first_post(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    zoe = open_chat(chromium, site, "Zoe", errors)
    shows(zoe, ".webchat-presence", "Here: 1 guest")
    # The first post makes the session, and the client reopens its stream with it; the old one
    # is noticed closed only later (it was counted too: "2 guests" came about 4 s on).
    send(zoe, "hello")
    message(zoe, "hello").wait_for(timeout=WAIT_MS)
    seen = set()
    for _ in range(30):
        seen.add(zoe.locator(".webchat-presence").text_content())
        zoe.wait_for_timeout(200)
    assert seen == {"Here: 1 guest"}
    assert errors == []
    zoe.context.close()


@pytest.mark.parametrize("transport", ["long-poll", "poll"])
def test_polling_pages_show_who_is_there_too(chromium, site_with, transport: str) -> None:  # type: ignore[no-untyped-def]
    # A poll every half second, not every 2 s: the same requests, less time idle between.
    interval = {"WEBCHAT_POLL_INTERVAL": 0.5} if transport == "poll" else {}
    site = site_with(WEBCHAT_TRANSPORT=transport, **interval)
    errors: list[str] = []
    ana = signed_in_page(chromium, site, "Ana", "/chat/", errors)
    zoe = open_chat(chromium, site, "Zoe", errors)
    # A first visit that polls has no session and no stream, nothing to be counted by: a guest
    # is counted once the chat knows the browser (after its first post).
    send(zoe, "hello")
    for page in (ana, zoe):
        shows(page, ".webchat-presence", "Here: Ana and 1 guest")
    assert errors == []
    zoe.context.close()
    ana.context.close()
