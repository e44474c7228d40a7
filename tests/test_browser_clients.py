"""Front ends that are not our page, in real Chromium: our client module on its own."""

from __future__ import annotations

import json
import urllib.request

import pytest

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


def post_over_http(site: str, content: str) -> None:
    request = urllib.request.Request(
        f"{site}/chat/messages",
        data=json.dumps({"content": content, "username": "Bob"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()


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
