"""What a bot or a careless client costs: reading stores nothing, listing rooms pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from flask_webchat.models import ChatRoom, ChatStream
from hosts import EVERY_DATABASE, Host, MakeHost

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def count(host: Host, model: Any) -> int:
    with host.app.app_context():
        return host.db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def room_names(host: Host) -> list[str]:
    with host.app.app_context():
        return list(host.db.session.scalars(sa.select(ChatRoom.name).order_by(ChatRoom.name)))


def test_reading_rooms_that_were_never_posted_to_creates_none(host: Host) -> None:
    bot = host.browser()
    for n in range(5):
        assert bot.client.get(f"/chat/rooms/made-up-{n}/").status_code == 200
        assert bot.client.get(f"/chat/rooms/made-up-{n}/messages").status_code == 200
        assert bot.client.get(f"/chat/rooms/made-up-{n}/messages/history").status_code == 200
        with bot.client.get(f"/chat/rooms/made-up-{n}/events", buffered=False) as events:
            assert events.status_code == 200
    assert room_names(host) == []
    assert [room["name"] for room in bot.client.get("/chat/rooms").json["rooms"]] == ["lobby"]
    assert count(host, ChatStream) == 0


def test_an_unused_rooms_page_still_receives_its_first_post(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    page = reader.client.get("/chat/rooms/new-room/")
    assert 'data-stream=""' in page.text  # nothing stored for a room that does not exist yet
    first = reader.client.get("/chat/rooms/new-room/messages").json
    assert first["messages"] == [] and first["cursor"] == "0"
    writer.client.post("/chat/rooms/new-room/messages", json={"content": "hi", "username": "w"})
    after = reader.client.get("/chat/rooms/new-room/messages", query_string={"after": "0"}).json
    assert [m["content"] for m in after["messages"]] == ["hi"]
    assert room_names(host) == ["new-room"]


def test_a_cookieless_reader_reads_the_backlog_and_writes_nothing(host: Host) -> None:
    host.browser().say("already here")
    streams = count(host, ChatStream)
    for _ in range(3):
        bot = host.browser()  # a new cookie jar each time, as a bot without cookies
        answer = bot.client.get("/chat/messages")
        assert answer.status_code == 200
        assert [m["content"] for m in answer.json["messages"]] == ["already here"]
        assert answer.json["stream"] is None
        assert "Set-Cookie" not in answer.headers
        with bot.client.get("/chat/events", buffered=False) as events:
            assert events.status_code == 200
            assert "Set-Cookie" not in events.headers
    assert count(host, ChatStream) == streams


def test_a_first_visit_to_the_page_stores_nothing_and_reads_by_cursor(host: Host) -> None:
    host.browser().say("already here")
    streams, rooms = count(host, ChatStream), count(host, ChatRoom)
    visitor = host.browser()
    page = visitor.client.get("/chat/")
    assert page.status_code == 200 and 'data-stream=""' in page.text
    assert "Set-Cookie" not in page.headers
    after = re.search(r'data-after="(\d+)"', page.text)
    assert after, "a page without a stream carries the cursor it reads on from"
    # What the page's script does: read the backlog from that cursor, still storing nothing.
    read = visitor.client.get(f"/chat/messages?after={after.group(1)}")
    assert [m["content"] for m in read.json["messages"]] == ["already here"]
    assert "Set-Cookie" not in read.headers
    assert (count(host, ChatStream), count(host, ChatRoom)) == (streams, rooms)
    visitor.say("my first words")  # posting is what gives a browser its session
    again = visitor.client.get("/chat/")  # a browser the chat knows gets its stream with the page
    assert 'data-stream=""' not in again.text and 'data-after=""' in again.text


def test_a_reader_with_a_session_keeps_its_default_stream(host: Host) -> None:
    ann = host.browser()
    ann.say("mine")  # posting gives the browser its reader key
    assert [m["content"] for m in ann.poll()["messages"]] == ["mine"]
    ann.say("next")
    assert [m["content"] for m in ann.poll()["messages"]] == ["next"]  # the stream moved


def test_the_room_list_comes_in_pages(make_host: MakeHost) -> None:
    host = make_host()
    writer = host.browser()
    for name in ["a-room", "b-room", "c-room", "d-room"]:
        writer.client.post(f"/chat/rooms/{name}/messages", json={"content": "x", "username": "w"})
    seen, after = [], None
    while True:
        query = {"limit": 2} | ({"after": after} if after else {})
        page = writer.client.get("/chat/rooms", query_string=query).json
        assert len(page["rooms"]) <= 2
        seen += [room["name"] for room in page["rooms"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ["a-room", "b-room", "c-room", "d-room", "lobby"]
    refused = writer.client.get("/chat/rooms", query_string={"limit": 0, "after": "Bad!"})
    assert refused.status_code == 422
    assert set(refused.json["error"]["fields"]) == {"limit", "after"}


def test_a_fixed_room_list_pages_too(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=["lobby", "support", "team"])
    first = host.browser().client.get("/chat/rooms", query_string={"limit": 2}).json
    assert [room["name"] for room in first["rooms"]] == ["lobby", "support"]
    rest = host.browser().client.get("/chat/rooms", query_string={"after": first["next"]}).json
    assert [room["name"] for room in rest["rooms"]] == ["team"] and rest["next"] is None
