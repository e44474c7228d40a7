"""Rooms: separate conversations under one mount point, each exact on its own, with the host
deciding which rooms exist and who may read, post and moderate."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from flask_webchat.models import ChatStream
from hosts import EVERY_DATABASE, SAMPLE_STACKS, Browser, Host, MakeHost

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def room_poll(browser: Browser, room: str, **params: Any) -> dict[str, Any]:
    response = browser.client.get(f"/chat/rooms/{room}/messages", query_string=params)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[return-value]


def room_say(browser: Browser, room: str, content: str) -> int:
    response = browser.client.post(
        f"/chat/rooms/{room}/messages", json={"content": content, "username": "ann"}
    )
    assert response.status_code == 201, response.json
    return response.json["id"]  # type: ignore[index,no-any-return]


def contents(batch: dict[str, Any]) -> list[str]:
    return [message["content"] for message in batch["messages"]]


def test_each_room_is_its_own_conversation(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    room_say(ann, "team-a", "for team a")
    room_say(ann, "team-b", "for team b")
    ann.say("in the lobby")
    assert contents(room_poll(bo, "team-a", after="0")) == ["for team a"]
    assert contents(room_poll(bo, "team-b", after="0")) == ["for team b"]
    # The routes without a room are the default room's.
    assert contents(room_poll(bo, "lobby", after="0")) == ["in the lobby"]
    assert contents(bo.poll(after="0")) == ["in the lobby"]


def test_a_rooms_page_opens_a_stream_in_that_room_only(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    room_say(ann, "team-a", "backlog of a")
    bo.open_page()  # a browser the chat knows: its pages open their tab's stream
    page = bo.client.get("/chat/rooms/team-a/")
    assert page.status_code == 200
    stream = page.text.split('data-stream="', 1)[1].split('"', 1)[0]
    assert 'data-messages-url="/chat/rooms/team-a/messages"' in page.text
    assert contents(room_poll(bo, "team-a", stream=stream)) == ["backlog of a"]
    room_say(ann, "team-b", "not for a")
    assert room_poll(bo, "team-a", stream=stream)["messages"] == []
    # A tab's stream belongs to its room: under another room it is unknown.
    elsewhere = bo.client.get("/chat/rooms/team-b/messages", query_string={"stream": stream})
    assert elsewhere.status_code == 404
    assert elsewhere.json["error"]["code"] == "unknown_stream"


@pytest.mark.parametrize("name", ["Team", "a" * 65, "two words", "-dash-first", "lobby%0A"])
def test_an_invalid_room_name_is_a_clear_404_and_creates_nothing(host: Host, name: str) -> None:
    browser = host.browser()
    for response in [
        browser.client.get(f"/chat/rooms/{name}/messages"),
        browser.client.post(f"/chat/rooms/{name}/messages", json={"content": "x", "username": "a"}),
    ]:
        assert response.status_code == 404, name
        error = response.json["error"]
        assert error["code"] == "unknown_room"
        assert "lowercase letters, digits" in error["message"]
    for path in ["/", "/messages", "/events"]:  # HEAD says no more than GET
        assert browser.client.head(f"/chat/rooms/{name}{path}").status_code == 404, (name, path)
    assert host.stored_messages() == []


def test_a_fixed_list_of_rooms_refuses_the_others(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=["lobby", "support"])
    ann = host.browser()
    assert room_poll(ann, "support", after="0")["messages"] == []  # listed, not created yet
    refused = ann.client.post(
        "/chat/rooms/elsewhere/messages", json={"content": "x", "username": "a"}
    )
    assert refused.status_code == 404
    assert refused.json["error"] == {
        "status": 404,
        "code": "unknown_room",
        "message": "There is no room 'elsewhere'.",
    }
    assert ann.client.get("/chat/rooms/elsewhere/messages").status_code == 404
    rooms = ann.client.get("/chat/rooms").json["rooms"]
    assert [(r["name"], r["messages"], r["last_activity"]) for r in rooms] == [
        ("lobby", 0, None),
        ("support", 0, None),
    ]


def test_a_room_hook_decides_which_rooms_exist(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=lambda name: name.startswith("ticket-"))
    ann = host.browser()
    room_say(ann, "ticket-17", "my printer is on fire")
    response = ann.client.post(
        "/chat/rooms/random/messages", json={"content": "x", "username": "a"}
    )
    assert response.status_code == 404


def test_the_room_list_counts_messages_and_shows_last_activity(host: Host) -> None:
    ann = host.browser()
    first = room_say(ann, "team-a", "one")
    room_say(ann, "team-a", "two")
    room_say(ann, "team-b", "three")
    assert ann.delete(first).status_code == 204
    rooms = {room["name"]: room for room in ann.client.get("/chat/rooms").json["rooms"]}
    assert set(rooms) == {"lobby", "team-a", "team-b"}
    assert (rooms["team-a"]["messages"], rooms["team-b"]["messages"]) == (1, 1)
    assert rooms["lobby"] == {
        "name": "lobby",
        "messages": 0,
        "last_activity": None,
        "cursor": "0",
        "unread": 0,
        "unread_capped": False,
    }
    assert rooms["team-a"]["last_activity"].endswith("Z")
    # The cursor reads only what comes next.
    cursor = rooms["team-a"]["cursor"]
    room_say(ann, "team-a", "four")
    assert contents(room_poll(ann, "team-a", after=cursor)) == ["four"]


def test_readers_of_one_room_do_no_work_for_posts_to_another(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    cursor = room_poll(bo, "team-a", after="0")["cursor"]
    answer: dict[str, Any] = {}
    waiting = threading.Thread(
        target=lambda: answer.update(room_poll(bo, "team-a", after=cursor, wait=20)), daemon=True
    )
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive()

    # Every statement the waiting reader's thread sends to the database from now on.
    by_reader: list[str] = []
    with host.app.app_context():
        engine = host.db.engine

    def record(*args: Any) -> None:
        if threading.get_ident() == waiting.ident:
            by_reader.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", record)
    room_say(ann, "team-b", "not for a")
    waiting.join(0.5)
    assert waiting.is_alive(), "a post to team-b woke a reader of team-a"
    assert by_reader == []

    room_say(ann, "team-a", "for a")
    waiting.join(5)
    assert contents(answer) == ["for a"]


def test_history_pages_back_newest_first_without_moving_the_reader(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    ids = [room_say(ann, "team-a", f"message {n}") for n in range(120)]
    assert ann.delete(ids[60]).status_code == 204
    stream = bo.open_stream("team-a")
    before_history = room_poll(bo, "team-a", stream=stream)

    seen: list[int] = []
    pages = 0
    query: dict[str, Any] = {}
    while True:
        page = bo.client.get("/chat/rooms/team-a/messages/history", query_string=query).json
        seen += [message["id"] for message in page["messages"]]
        pages += 1
        if page["next"] is None:
            break
        query = {"before": page["next"]}
    assert pages == 3  # 50, 50, 19
    assert seen == [i for i in reversed(ids) if i != ids[60]]
    # History moved nothing: the tab's stream goes on from where it was.
    room_say(ann, "team-a", "after the history")
    assert contents(room_poll(bo, "team-a", stream=stream)) == ["after the history"]
    assert before_history["more"] is False


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": "201"}, "limit"), ({"limit": "0"}, "limit"), ({"before": "x"}, "before")],
)
def test_bad_history_arguments_are_422_with_the_field(
    browser: Browser, query: dict[str, str], field: str
) -> None:
    response = browser.client.get("/chat/messages/history", query_string=query)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_history_of_a_short_room_fits_one_page(browser: Browser) -> None:
    browser.say("only one")
    page = browser.client.get("/chat/messages/history", query_string={"limit": "5"}).json
    assert contents(page) == ["only one"]
    assert page["next"] is None


def _hooks(host: Host, **hooks: Any) -> None:
    for name, hook in hooks.items():
        getattr(host.webchat, name)(hook)


def test_the_read_hook_closes_a_room_everywhere(host: Host) -> None:
    host.add_user("ann")
    _hooks(host, read_permission=lambda room, identity: room != "staff" or identity is not None)
    guest, ann = host.browser(), host.browser()
    ann.login("ann")
    room_say(ann, "staff", "staff only")
    for path in ["/", "/messages?after=0", "/events", "/messages/history"]:
        response = guest.client.get(f"/chat/rooms/staff{path}")
        assert response.status_code == 403, path
        assert response.json["error"]["code"] == "forbidden"
    posted = guest.client.post("/chat/rooms/staff/messages", json={"content": "x", "username": "g"})
    assert posted.status_code == 403
    assert "staff" not in [room["name"] for room in guest.client.get("/chat/rooms").json["rooms"]]
    assert "staff" in [room["name"] for room in ann.client.get("/chat/rooms").json["rooms"]]
    message_id = host.stored_messages()[0].id
    # To a reader who may not see it, the message does not exist: its id tells nothing.
    hidden = guest.client.get(f"/chat/messages/{message_id}")
    missing = guest.client.get(f"/chat/messages/{message_id + 1000}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["error"]["code"] == missing.json["error"]["code"]
    for path in ["/", "/messages", "/events"]:  # HEAD says no more than GET
        assert guest.client.head(f"/chat/rooms/staff{path}").status_code == 403, path
    assert [m.content for m in host.stored_messages()] == ["staff only"]


def test_a_forbidden_page_leaves_the_browser_unremembered(host: Host) -> None:
    _hooks(host, read_permission=lambda room, identity: room != "staff")
    visitor = host.browser()
    for method in ("GET", "HEAD"):
        page = visitor.client.open("/chat/rooms/staff/", method=method)
        assert page.status_code == 403, method
        assert "Set-Cookie" not in page.headers, method  # no reader key was made for it
    # Still a browser the chat does not know: its page of an open room opens no stream.
    lobby = visitor.client.get("/chat/")
    assert lobby.status_code == 200 and 'data-stream=""' in lobby.text
    assert "Set-Cookie" not in lobby.headers
    with host.app.app_context():
        assert host.db.session.scalar(sa.select(sa.func.count()).select_from(ChatStream)) == 0


def test_the_post_hook_makes_a_room_read_only(host: Host) -> None:
    _hooks(host, post_permission=lambda room, identity: room != "announcements")
    ann = host.browser()
    refused = ann.client.post(
        "/chat/rooms/announcements/messages", json={"content": "x", "username": "a"}
    )
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == "You may not post to this room."
    page = ann.client.get("/chat/rooms/announcements/")
    assert "You may read this room but not post to it." in page.text
    assert room_poll(ann, "announcements", after="0")["messages"] == []


def test_a_moderator_may_delete_anything_in_their_room_only(host: Host) -> None:
    host.add_user("mod")
    _hooks(
        host,
        moderator_permission=lambda room, identity: (
            identity is not None and identity.name == "mod" and room == "team-a"
        ),
    )
    writer, moderator = host.browser(), host.browser()
    moderator.login("mod")
    in_a = room_say(writer, "team-a", "moderated room")
    in_b = room_say(writer, "team-b", "someone else's room")
    (seen,) = room_poll(moderator, "team-a", after="0")["messages"]
    assert (seen["mine"], seen["can_delete"]) == (False, True)
    (other,) = room_poll(moderator, "team-b", after="0")["messages"]
    assert other["can_delete"] is False
    assert moderator.delete(in_b).status_code == 403
    assert moderator.delete(in_a).status_code == 204
    assert [m.id for m in host.stored_messages()] == [in_b]


def test_a_rooms_event_stream_carries_that_room_only(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    ann, bo = host.browser(), host.browser()
    room_say(ann, "team-a", "first in a")
    events = bo.events_for("/chat/rooms/team-a/events", after="0")
    (first,) = events.take(1)
    assert first.data["content"] == "first in a"
    threading.Timer(
        0.2, lambda: (room_say(ann, "team-b", "in b"), room_say(ann, "team-a", "in a"))
    ).start()
    (second,) = events.take(1)
    assert second.data["content"] == "in a"
    events.close()


def test_nobody_deletes_in_a_room_they_may_not_read(host: Host) -> None:
    # The host's site-wide moderators may delete anywhere they may read, and nowhere else.
    host.add_user("ann")
    host.add_user("mod", moderator=True)
    _hooks(
        host,
        read_permission=lambda room, identity: (
            room != "staff" or (identity is not None and identity.name == "ann")
        ),
    )
    ann, moderator = host.browser(), host.browser()
    ann.login("ann")
    moderator.login("mod")
    in_staff = room_say(ann, "staff", "staff only")
    refused = moderator.delete(in_staff)
    assert refused.status_code == 404  # a message they may not see does not exist to them
    assert refused.json["error"]["code"] == moderator.delete(in_staff + 1000).json["error"]["code"]
    in_lobby = ann.say("anyone may read this")
    assert moderator.delete(in_lobby).status_code == 204
    assert [m.id for m in host.stored_messages()] == [in_staff]
