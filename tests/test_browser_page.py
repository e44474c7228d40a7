"""The chat page in real Chromium: composing, scrolling, reconnecting, access, embedding."""

from __future__ import annotations

import json
import urllib.request

import pytest

from browsing import WAIT_MS, message, open_chat, send, serving, wait_for_value
from example_app import create_app
from servers import free_port, gunicorn

pytestmark = pytest.mark.browser


def post_over_http(site: str, content: str, name: str = "Bob", room: str | None = None) -> int:
    """Someone else posting, from outside any browser."""
    request = urllib.request.Request(
        f"{site}/chat/rooms/{room}/messages" if room else f"{site}/chat/messages",
        data=json.dumps({"content": content, "username": name}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["id"]  # type: ignore[no-any-return]


def wait_for_state(page, state: str, *, timeout: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until the chat says it is ``live`` or ``reconnecting``."""
    page.wait_for_function(
        f"() => document.querySelector('[data-webchat]').dataset.state === '{state}'",
        timeout=timeout,
    )


def test_the_counter_counts_like_the_server_and_send_waits_for_text(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    box, button = page.get_by_label("Message", exact=True), page.get_by_role("button", name="Send")
    counter = page.locator(".webchat-counter")
    assert button.is_disabled() and counter.text_content() == "0 / 1024"

    box.fill("   \n ")
    assert button.is_disabled()  # white space alone is not a message
    box.fill("  你好👋\r\n ")
    assert counter.text_content() == "3 / 1024" and button.is_enabled()

    box.fill("👋" * 1025)
    assert counter.text_content() == "1025 / 1024"
    assert "is-over" in (counter.get_attribute("class") or "")
    box.fill("👋" * 1024)
    box.press("Enter")
    message(page, "👋" * 1024).wait_for(timeout=WAIT_MS)  # exactly the limit is accepted
    assert errors == []


def test_shift_enter_starts_a_new_line_and_enter_sends(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    box = page.get_by_label("Message", exact=True)
    box.type("first line")
    box.press("Shift+Enter")
    box.type("second line")
    box.press("Enter")
    sent = message(page, "first line").locator(".webchat-content")
    sent.wait_for(timeout=WAIT_MS)
    assert sent.text_content() == "first line\nsecond line"
    # The box empties once the post is answered, which may come just after its copy shows.
    wait_for_value(box, "")
    assert errors == []


def test_a_reader_who_scrolled_up_gets_a_marker_instead_of_a_jump(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    for n in range(15):  # enough to overflow the list, within the site's rate limit
        post_over_http(site, f"earlier message {n}")
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    listing = page.locator(".webchat-messages")
    message(page, "earlier message 14").wait_for(timeout=WAIT_MS)
    at_bottom = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 40"
    assert listing.evaluate(at_bottom), "the backlog opens at its newest message"

    listing.evaluate("el => { el.scrollTop = 0; }")
    post_over_http(site, "while you were reading")
    jump = page.get_by_role("button", name="New messages ↓")
    jump.wait_for(timeout=WAIT_MS)
    assert listing.evaluate("el => el.scrollTop") == 0  # the reader's place is kept
    jump.click()
    assert listing.evaluate(at_bottom)
    jump.wait_for(state="hidden", timeout=WAIT_MS)

    post_over_http(site, "pinned to the bottom")
    message(page, "pinned to the bottom").wait_for(timeout=WAIT_MS)
    page.wait_for_function(f"() => ({at_bottom})(document.querySelector('.webchat-messages'))")
    assert jump.is_hidden()
    assert errors == []


@pytest.mark.parametrize("transport", ["long-poll", "poll"])
def test_a_lost_connection_says_reconnecting_then_resumes_without_gaps(  # type: ignore[no-untyped-def]
    chromium, site_with, transport: str
) -> None:
    # Requests are cut by the browser here; the event stream's own test restarts the server.
    site = site_with(WEBCHAT_TRANSPORT=transport, WEBCHAT_MAX_WAIT=1)
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    root = page.locator("[data-webchat]")
    page.route("**/chat/messages?*", lambda route: route.abort())
    page.get_by_role("status").get_by_text("Reconnecting…").wait_for(timeout=WAIT_MS)
    assert root.get_attribute("data-state") == "reconnecting"
    missed = [post_over_http(site, f"sent while Ann was offline {n}") for n in range(3)]

    page.unroute("**/chat/messages?*")
    # The first retries come after 1 s, 2 s and 4 s (with jitter).
    wait_for_state(page, "live", timeout=3 * WAIT_MS)
    for n, message_id in enumerate(missed):
        shown = message(page, f"sent while Ann was offline {n}")
        shown.wait_for(timeout=WAIT_MS)
        assert shown.count() == 1 and shown.get_attribute("data-id") == str(message_id)
    assert page.get_by_role("status").text_content() == ""
    # Only the aborted requests complained.
    assert [e for e in errors if "ERR_FAILED" not in e] == []


def test_the_event_stream_resumes_without_gaps_after_its_server_restarts(  # type: ignore[no-untyped-def]
    chromium, tmp_path
) -> None:
    # Two servers on one SQLite file: gunicorn restarts under the page, while the other, served
    # from the test's own process (one gunicorn fewer to start), takes posts.
    instance, port = tmp_path / "instance", free_port()
    env = {"FLASK_WEBCHAT_FALLBACK_POLL": "0.3", "FLASK_WEBCHAT_RATE_LIMIT": "null"}
    config = {"WEBCHAT_FALLBACK_POLL": 0.3, "WEBCHAT_RATE_LIMIT": None, "EXAMPLE_WELCOME": None}
    errors: list[str] = []
    with serving(create_app(config, instance_path=str(instance))) as other:
        with gunicorn(instance, env, port=port) as site:
            page = open_chat(chromium, site, "Ann", errors)
            root = page.locator("[data-webchat]")
            post_over_http(other, "before the restart")
            message(page, "before the restart").wait_for(timeout=WAIT_MS)
        wait_for_state(page, "reconnecting", timeout=WAIT_MS)
        missed = [post_over_http(other, f"sent during the restart {n}") for n in range(3)]
        with gunicorn(instance, env, port=port):
            wait_for_state(page, "live", timeout=3 * WAIT_MS)
            for n, message_id in enumerate(missed):
                shown = message(page, f"sent during the restart {n}")
                shown.wait_for(timeout=WAIT_MS)
                assert shown.count() == 1 and shown.get_attribute("data-id") == str(message_id)
            assert message(page, "before the restart").count() == 1
            assert root.get_attribute("data-state") == "live"
    # Only the cut stream and the attempts to reach the stopped server complained (marking the
    # message read, just as it showed, may be the request the stop cuts).
    expected = ("ERR_INCOMPLETE_CHUNKED_ENCODING", "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET")
    assert [e for e in errors if not e.endswith(expected)] == []


def test_new_messages_are_announced_but_the_backlog_is_not(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    post_over_http(site, "an old message")
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    message(page, "an old message").wait_for(timeout=WAIT_MS)
    announcer = page.locator(".webchat-announcer")
    assert announcer.get_attribute("aria-live") == "polite"
    assert announcer.text_content() == ""
    post_over_http(site, "hello Ann")
    page.wait_for_function(
        "() => document.querySelector('.webchat-announcer').textContent === 'Bob: hello Ann'",
        timeout=WAIT_MS,
    )
    assert errors == []


def test_the_chat_can_be_used_with_the_keyboard_alone(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_chat(chromium, site, "Kim", errors)
    focused = (
        "() => document.activeElement.getAttribute('aria-label') || document.activeElement.name"
    )
    page.keyboard.press("Tab")  # from the page to the "Example site" link, then into the chat
    for _ in range(5):
        if page.evaluate(focused) == "content":
            break
        page.keyboard.press("Tab")
    assert page.evaluate(focused) == "content", "Tab reaches the message box"
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Enter")
    message(page, "typed without a mouse").wait_for(timeout=WAIT_MS)

    page.keyboard.press("Shift+Tab")  # the name
    page.keyboard.press("Shift+Tab")  # the delete button of the newest own message
    assert page.evaluate(focused) == "Delete message from Kim"
    page.keyboard.press("Enter")
    message(page, "typed without a mouse").wait_for(state="detached", timeout=WAIT_MS)
    assert errors == []


def test_the_page_fits_a_phone_and_follows_the_dark_preference(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    backgrounds = {}
    for scheme in ["light", "dark"]:
        context = chromium.new_context(viewport={"width": 320, "height": 640}, color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{site}/chat/")
        page.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, "no sideways scroll"
        backgrounds[scheme] = page.locator(".webchat").evaluate(
            "el => getComputedStyle(el).backgroundColor"
        )
        context.close()
    assert backgrounds["light"] != backgrounds["dark"]


def test_the_client_module_works_on_its_own(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    page = chromium.new_context().new_page()
    page.goto(f"{site}/")  # any page of the site: the client needs no chat page
    result = page.evaluate(
        """async () => {
            const { WebchatClient } = await import("/chat/static/webchat/client.js");
            const chat = new WebchatClient({ url: "/chat/messages", after: "0" });
            const seen = [], gone = [];
            chat.addEventListener("message", (e) => seen.push(e.detail.content));
            chat.addEventListener("delete", (e) => gone.push(e.detail.id));
            chat.start();
            const posted = await chat.send({ content: "from my own UI", username: "Bot" });
            while (!seen.includes("from my own UI")) await new Promise((r) => setTimeout(r, 50));
            await chat.delete(posted.id);
            while (!gone.includes(posted.id)) await new Promise((r) => setTimeout(r, 50));
            let refused = null;
            try { await chat.send({ content: "", username: "Bot" }); }
            catch (error) { refused = [error.status, error.code, error.message]; }
            chat.refresh();  // a poll in flight when stop() comes must not start another
            chat.stop();
            return { seen, gone, posted: posted.id, refused };
        }"""
    )
    polls_after_stop: list[str] = []
    page.on("request", lambda request: polls_after_stop.append(request.url))
    page.wait_for_timeout(3000)  # longer than the poll interval
    assert polls_after_stop == []
    assert result["seen"] == ["from my own UI"] and result["gone"] == [result["posted"]]
    assert result["refused"] == [422, "invalid_fields", "A message cannot be empty."]


def test_the_widget_embeds_in_a_page_of_the_host(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = chromium.new_context().new_page()
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(f"{site}/support")
    page.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    page.get_by_label("Your name").fill("Lee")
    send(page, "asked from the support page")
    message(page, "asked from the support page").wait_for(timeout=WAIT_MS)
    styled = page.locator(".webchat-messages").evaluate("el => getComputedStyle(el).overflowY")
    assert styled == "auto", "the widget brought its style sheet"
    assert errors == []


def test_older_messages_load_on_demand_and_the_switcher_changes_rooms(chromium, site_with) -> None:  # type: ignore[no-untyped-def]
    site = site_with(WEBCHAT_RATE_LIMIT=None)
    for n in range(60):  # ten more than the backlog
        post_over_http(site, f"lobby message {n}")
    post_over_http(site, "a question for support", room="support")
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    message(page, "lobby message 59").wait_for(timeout=WAIT_MS)
    assert message(page, "lobby message 9").count() == 0
    older = page.get_by_role("button", name="Load older messages")
    older.click()
    message(page, "lobby message 0").wait_for(timeout=WAIT_MS)
    assert page.locator(".webchat-message").count() == 60
    texts = page.locator(".webchat-content").all_text_contents()
    assert texts == [f"lobby message {n}" for n in range(60)]  # in order, oldest on top
    older.wait_for(state="hidden", timeout=WAIT_MS)  # nothing older is left

    rooms = page.get_by_role("navigation", name="Rooms")
    assert rooms.get_by_role("link", name="#lobby").get_attribute("aria-current") == "page"
    rooms.get_by_role("link", name="#support").click()
    page.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    message(page, "a question for support").wait_for(timeout=WAIT_MS)
    assert message(page, "lobby message").count() == 0
    send(page, "an answer in support")
    message(page, "an answer in support").wait_for(timeout=WAIT_MS)
    with urllib.request.urlopen(f"{site}/chat/messages?after=0&limit=200") as answer:
        lobby = [m["content"] for m in json.load(answer)["messages"]]
    assert "an answer in support" not in lobby and len(lobby) == 60
    assert errors == []


def test_a_post_whose_answer_was_lost_is_stored_once_when_sent_again(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    keys: list[str | None] = []

    def lose_the_first_answer(route) -> None:  # type: ignore[no-untyped-def]
        keys.append(route.request.headers.get("idempotency-key"))
        answer = route.fetch()  # the server stores the message ...
        if len(keys) == 1:
            route.abort("connectionreset")  # ... and the answer never arrives
        else:
            route.fulfill(response=answer)

    def route(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method == "POST":
            lose_the_first_answer(route)
        else:
            route.fallback()

    page.route("**/chat/messages", route)
    send(page, "only once, please")
    page.locator(".webchat-status.is-error").wait_for(timeout=WAIT_MS)
    assert page.get_by_label("Message", exact=True).input_value() == "only once, please"
    page.get_by_role("button", name="Send").click()  # the reader tries again
    message(page, "only once, please").wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => !document.querySelector('.webchat-status.is-error')")
    assert keys[0] and keys == [keys[0], keys[0]], keys
    assert message(page, "only once, please").count() == 1
    with urllib.request.urlopen(f"{site}/chat/messages?after=0") as answer:
        stored = [m["content"] for m in json.load(answer)["messages"]]
    assert stored == ["only once, please"]
    page.context.close()


def test_names_and_messages_are_shown_bidi_isolated(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page = open_chat(chromium, site, "Ann", errors)
    post_over_http(site, "\u202eevil.exe\u202c gpj.", name="علي")
    post_over_http(site, "after it", name="Bob")
    message(page, "after it").wait_for(timeout=WAIT_MS)
    isolation = page.evaluate(
        """() => [...document.querySelectorAll('.webchat-username, .webchat-content')].map(
            (node) => [node.textContent, node.dir, getComputedStyle(node).unicodeBidi])"""
    )
    assert ["علي", "auto", "isolate"] in isolation
    assert ["\u202eevil.exe\u202c gpj.", "auto", "isolate"] in isolation
    assert ["Bob", "auto", "isolate"] in isolation
    assert errors == []
    page.context.close()
