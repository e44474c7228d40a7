"""Front ends that are not our page, in real Chromium: our client module, Backbone, fetch.

The Backbone and fetch examples are the files docs/clients.rst includes, loaded as they are.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path

import pytest

from browsing import WAIT_MS
from processes import ROOT
from servers import RemoteBrowser

pytestmark = pytest.mark.browser

# Each tab runs our client module, as a front end of the host's own would, with no chat page.
_TAB = """async (transport) => {
    const { WebchatClient } = await import("/chat/static/webchat/client.js");
    const chat = new WebchatClient({ url: "/chat/messages", transport });
    window.seen = [];
    chat.addEventListener("message", (e) => window.seen.push(e.detail.content));
    chat.start();
    while (chat.state !== "live") await new Promise((r) => setTimeout(r, 20));
    return chat.stream;
}"""


def post_over_http(site: str, content: str, room: str | None = None) -> int:
    """Someone else (a session of their own each time) posting, from outside any browser."""
    request = urllib.request.Request(
        f"{site}/chat/rooms/{room}/messages" if room else f"{site}/chat/messages",
        data=json.dumps({"content": content, "username": "Bob"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return int(json.load(answer)["id"])


@pytest.mark.parametrize("transport", ["sse", "long-poll", "poll"])
def test_two_tabs_of_our_client_off_our_page_each_get_every_message(  # type: ignore[no-untyped-def]
    chromium, site: str, transport: str
) -> None:
    post_over_http(site, "the backlog")  # each tab shows it, as a page load would
    context = chromium.new_context()  # one browser: one cookie jar, one chat session
    tabs = [context.new_page() for _ in range(2)]
    streams = []
    for tab in tabs:
        tab.goto(f"{site}/")  # a page of the host's, not the chat page
        streams.append(tab.evaluate(_TAB, transport))
    assert streams[0] and streams[1] and streams[0] != streams[1]

    sent = [f"message {n}" for n in range(3)]
    for content in sent:
        post_over_http(site, content)
    sent.insert(0, "the backlog")
    for tab in tabs:
        tab.wait_for_function(f"window.seen.length >= {len(sent)}", timeout=10000)
        assert tab.evaluate("window.seen") == sent
    context.close()


def test_two_tabs_still_get_every_message_when_opening_a_stream_first_fails(  # type: ignore[no-untyped-def]
    chromium, site: str
) -> None:
    # A refused POST /streams (here a 503) is retried: reading meanwhile without a stream would
    # read the session's default stream, and the two tabs would take each other's messages.
    context = chromium.new_context()
    tabs = [context.new_page() for _ in range(2)]
    refused = []

    def refuse_once(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method == "POST" and len(refused) < len(tabs):
            refused.append(route.request.url)
            body = {"error": {"status": 503, "code": "database_unavailable", "message": "Down."}}
            route.fulfill(status=503, json=body, headers={"Retry-After": "1"})
            return
        route.continue_()

    streams = []
    for tab in tabs:
        tab.route("**/chat/streams", refuse_once)
        tab.goto(f"{site}/")
        streams.append(tab.evaluate(_TAB, "long-poll"))
    assert len(refused) == 2
    assert streams[0] and streams[1] and streams[0] != streams[1]
    sent = [f"message {n}" for n in range(3)]
    for content in sent:
        post_over_http(site, content)
    for tab in tabs:
        tab.wait_for_function(f"window.seen.length >= {len(sent)}", timeout=10000)
        assert tab.evaluate("window.seen") == sent
    context.close()


def test_our_client_gets_a_stream_of_its_own_in_a_room_nobody_posted_to(  # type: ignore[no-untyped-def]
    chromium, site_with
) -> None:
    site = site_with(WEBCHAT_ROOMS=None)  # any room name: "fresh" has no row until opened
    page = chromium.new_context().new_page()
    page.goto(f"{site}/")
    state = page.evaluate(
        """async () => {
            const { WebchatClient } = await import("/chat/static/webchat/client.js");
            const url = "/chat/rooms/fresh/messages";
            window.chat = new WebchatClient({ url, transport: "poll" });
            window.seen = [];
            chat.addEventListener("message", (e) => window.seen.push(e.detail.content));
            chat.start();
            for (let n = 0; n < 250 && chat.state !== "live"; n++) {
                await new Promise((r) => setTimeout(r, 20));
            }
            return [chat.state, chat.stream, chat.cursor];
        }"""
    )
    # Not refused (unknown_room), and not read by cursor 0 apart: a stream of its own.
    assert state[0] == "live" and state[1]
    post_over_http(site, "the first words", room="fresh")
    page.wait_for_function("window.seen.length >= 1", timeout=10000)
    assert page.evaluate("window.seen") == ["the first words"]


def test_our_client_tells_a_gone_message_from_a_wrong_url(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    page = chromium.new_context().new_page()
    page.goto(f"{site}/")
    result = page.evaluate(
        """async () => {
            const { WebchatClient } = await import("/chat/static/webchat/client.js");
            const chat = new WebchatClient({ url: "/chat/rooms/support/messages" });
            const posted = await chat.send({ content: "twice", username: "Bot" });
            await chat.delete(posted.id);
            await chat.delete(posted.id);  // already gone: counts as deleted
            const wrong = new WebchatClient({ url: "/chat/room/support/messages" });
            try { await wrong.delete(posted.id); return "resolved"; }
            catch (error) { return [error.status, error.code]; }
        }"""
    )
    assert result == [404, "unknown_route"]


LIBRARIES = ROOT / "tests" / "js" / "node_modules"
EXAMPLES = ROOT / "docs" / "examples"


def load_scripts(page, *paths: Path) -> None:  # type: ignore[no-untyped-def]
    for path in paths:
        if not path.exists():
            reason = f"{path.name} is not installed (npm ci --prefix tests/js)"
            if os.environ.get("WEBCHAT_TEST_REQUIRE_BROWSER"):
                pytest.fail(reason)
            pytest.skip(reason)
        page.add_script_tag(path=str(path))


def test_the_backbone_recipes_in_chromium(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    page = chromium.new_context().new_page()
    page.goto(f"{site}/")  # a page of the host's, as a Backbone app would be
    load_scripts(
        page,
        LIBRARIES / "jquery" / "dist" / "jquery.min.js",
        LIBRARIES / "underscore" / "underscore-umd-min.js",
        LIBRARIES / "backbone" / "backbone-min.js",
        EXAMPLES / "backbone_chat.js",
    )
    someone_elses = post_over_http(site, "from Bob", room="support")
    result = page.evaluate(
        """async ([bobs]) => {
            const room = new ChatRoom([], { room: "support" });
            await room.open();
            await room.poll();
            const backlog = room.pluck("content");
            // {wait: true}: the message is added once, even though the poll brings it too.
            const mine = await room.say("hello", "Ann");
            await room.poll();
            const afterSay = room.pluck("content");
            // A refused destroy (Bob's message: 403) puts the model back.
            let refused = null;
            try { await room.erase(room.get(bobs)); } catch (error) { refused = error.code; }
            const afterRefusal = room.pluck("id");
            // A destroy that works, and a deletion by someone else, leave after the next poll.
            await room.erase(room.get(mine.id));
            return { backlog, afterSay, refused, afterRefusal, mine: mine.id,
                     afterErase: room.pluck("id"), url: room.get(bobs).url() };
        }""",
        [someone_elses],
    )
    assert result["backlog"] == ["from Bob"]
    assert result["afterSay"] == ["from Bob", "hello"]
    assert result["refused"] == "forbidden"
    assert result["afterRefusal"] == [someone_elses, result["mine"]]  # in cursor order
    assert result["afterErase"] == [someone_elses]
    assert result["url"] == f"/chat/rooms/support/messages/{someone_elses}"

    bob = RemoteBrowser()  # one session, so that Bob may delete his own messages
    url = f"{site}/chat/rooms/support/messages"
    posted = [
        bob.request("POST", url, {"content": f"b{n}", "username": "B"})[1]["id"] for n in (1, 2)
    ]
    page.evaluate("async () => { window.room = new ChatRoom([], { room: 'support' }); }")
    page.evaluate("async () => { await room.open(); await room.poll(); }")
    assert page.evaluate("room.pluck('id')") == [someone_elses, *posted]
    # An edit made after loading: the next poll sets it on the model the collection holds.
    assert bob.request("PATCH", f"{url}/{posted[1]}", {"content": "b2, edited"})[0] == 200
    page.evaluate("async () => { await room.poll(); }")
    assert page.evaluate("room.pluck('content')") == ["from Bob", "b1", "b2, edited"]
    for message_id in posted:
        assert bob.request("DELETE", f"{url}/{message_id}")[0] == 204
    # Erasing a message someone deleted meanwhile: no error, and it is not put back.
    page.evaluate("async ([id]) => { await room.erase(room.get(id)); }", [posted[0]])
    assert page.evaluate("room.pluck('id')") == [someone_elses, posted[1]]
    page.evaluate("async () => { await room.poll(); }")
    assert page.evaluate("room.pluck('id')") == [someone_elses]  # remove: false, then deleted


def test_the_fetch_loop_gives_two_tabs_every_message(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    context = chromium.new_context()
    tabs = [context.new_page() for _ in range(2)]
    post_over_http(site, "the backlog", room="support")
    for tab in tabs:
        tab.goto(f"{site}/")
        load_scripts(tab, EXAMPLES / "fetch_loop.js")
        tab.evaluate(
            """() => {
                window.seen = [];
                window.stop = new AbortController();
                window.edits = [];
                followRoom("support", { onMessage: (m) => seen.push(m.content),
                                        onUpdate: (m) => edits.push(m.content),
                                        onDelete: () => {}, signal: stop.signal });
            }"""
        )
        tab.wait_for_function("window.seen.length === 1", timeout=WAIT_MS)
    said = tabs[0].evaluate("say('support', 'from the first tab', 'Ann')")
    for tab in tabs:
        tab.wait_for_function("window.seen.length === 2", timeout=WAIT_MS)
        assert tab.evaluate("window.seen") == ["the backlog", "from the first tab"]
    # An edit made after loading reaches both tabs as an update.
    edit = """async ([id]) => (await fetch(`/chat/rooms/support/messages/${id}`, {
        method: "PATCH", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ content: "edited" }) })).status"""
    assert tabs[0].evaluate(edit, [said["id"]]) == 200
    for tab in tabs:
        tab.wait_for_function("window.edits.length === 1", timeout=WAIT_MS)
        assert tab.evaluate("window.edits") == ["edited"]
        tab.evaluate("stop.abort()")
    context.close()


def test_backbone_with_wait_shows_a_slowly_answered_post_once(chromium, site: str) -> None:  # type: ignore[no-untyped-def]
    page = chromium.new_context().new_page()
    page.goto(f"{site}/")
    load_scripts(
        page,
        LIBRARIES / "jquery" / "dist" / "jquery.min.js",
        LIBRARIES / "underscore" / "underscore-umd-min.js",
        LIBRARIES / "backbone" / "backbone-min.js",
        EXAMPLES / "backbone_chat.js",
    )
    held = []

    def hold_the_answer(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method != "POST":
            route.continue_()
            return
        held.append((route, route.fetch()))  # stored on the server; the answer waits

    page.route("**/chat/rooms/support/messages", hold_the_answer)
    page.evaluate("async () => { window.room = new ChatRoom([], { room: 'support' }); }")
    page.evaluate("async () => { await room.open(); window.saying = room.say('slow', 'Ann'); }")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the post was sent"
    page.evaluate("async () => { await room.poll(); }")  # the poll brings it before the answer
    route, answer = held[0]
    route.fulfill(response=answer)
    page.evaluate("async () => { await saying; }")
    assert page.evaluate("room.pluck('content')") == ["slow"]


def test_the_event_source_snippet_of_the_http_docs_shows_posts_edits_and_deletes(  # type: ignore[no-untyped-def]
    chromium, site: str
) -> None:
    text = (ROOT / "docs" / "http.rst").read_text()
    snippet = re.search(r"(const events = new EventSource\(.*?)\n\n", text, re.DOTALL)
    assert snippet, "docs/http.rst shows an EventSource snippet"
    page = chromium.new_context().new_page()
    page.goto(f"{site}/")
    page.evaluate(
        """(snippet) => {
            window.shown = {};
            const show = (m) => { shown[m.id] = m.content; };
            const replace = show;
            const hide = (id) => { delete shown[id]; };
            eval(snippet.replace(/^ {3}/gm, ""));
        }""",
        snippet.group(1),
    )
    bob = RemoteBrowser()
    url = f"{site}/chat/messages"
    kept, gone = (bob.request("POST", url, {"content": c, "username": "B"})[1]["id"] for c in "ab")
    page.wait_for_function("Object.keys(window.shown).length === 2", timeout=WAIT_MS)
    assert bob.request("PATCH", f"{url}/{kept}", {"content": "a, edited"})[0] == 200
    assert bob.request("DELETE", f"{url}/{gone}")[0] == 204
    page.wait_for_function(f"!window.shown[{gone}]", timeout=WAIT_MS)
    assert page.evaluate("window.shown") == {str(kept): "a, edited"}
