"""Read positions and unread counts: ``POST /read``, ``unread`` in ``GET /rooms``, the Python API.

Every test runs on every stack; the concurrent one checks each count taken while others post and
delete against the truth rebuilt afterwards from what was posted and what the deletions recorded.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from flask_webchat import unread
from flask_webchat.identity import Identity, Viewer
from flask_webchat.models import ChatDeletion, ChatReadPosition, ChatRoom
from hosts import EVERY_DATABASE, EVERY_STACK, Browser, Host, MakeHost, Stack
from workload import run_together

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def rooms_unread(browser: Browser) -> dict[str, tuple[int, bool]]:
    answer = browser.client.get("/chat/rooms")
    assert answer.status_code == 200, answer.json
    return {room["name"]: (room["unread"], room["unread_capped"]) for room in answer.json["rooms"]}


def mark(browser: Browser, cursor: Any, room: str | None = None) -> Any:
    path = f"/chat/rooms/{room}/read" if room else "/chat/read"
    return browser.client.post(path, json={"cursor": cursor})


def stored_positions(host: Host) -> list[tuple[str, int]]:
    with host.app.app_context():
        rows = host.db.session.execute(
            sa.select(ChatReadPosition.reader, ChatReadPosition.position)
        ).all()
        return sorted((reader, position) for reader, position in rows)


def post_in(browser: Browser, room: str, content: str) -> dict[str, Any]:
    answer = browser.client.post(
        f"/chat/rooms/{room}/messages", json={"content": content, "username": "w"}
    )
    assert answer.status_code == 201, answer.json
    return answer.json  # type: ignore[no-any-return]


def test_a_new_reader_has_read_nothing_and_counting_writes_nothing(host: Host) -> None:
    writer = host.browser()
    for n in range(3):
        writer.say(f"m{n}")
    bot = host.browser()  # no cookie
    answer = bot.client.get("/chat/rooms")
    assert answer.json["rooms"] == [
        {**answer.json["rooms"][0], "name": "lobby", "unread": 3, "unread_capped": False}
    ]
    assert "Set-Cookie" not in answer.headers
    assert stored_positions(host) == []
    assert rooms_unread(writer) == {"lobby": (0, False)}, "one's own messages are never unread"


def test_marking_read_moves_forward_only(host: Host) -> None:
    writer, reader = host.browser(), host.browser()
    cursors = [post_in(writer, "lobby", f"m{n}")["cursor"] for n in range(4)]
    answer = mark(reader, cursors[1])
    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "room": "lobby",
        "cursor": cursors[1],
        "unread": 2,
        "unread_capped": False,
    }
    assert rooms_unread(reader) == {"lobby": (2, False)}

    back = mark(reader, cursors[0])
    assert back.status_code == 200
    assert back.json["cursor"] == cursors[1] and back.json["unread"] == 2, "never back"

    assert mark(reader, cursors[3]).json["unread"] == 0
    assert rooms_unread(reader) == {"lobby": (0, False)}
    [(owner, position)] = stored_positions(host)
    assert owner.startswith("session:") and str(position) == cursors[3]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"cursor": "99"}, 422, "invalid_fields"),
        ({"cursor": 1}, 422, "invalid_fields"),
        ({"cursor": "-1"}, 422, "invalid_fields"),
        ({}, 422, "invalid_fields"),
        ([], 422, "invalid_fields"),
    ],
)
def test_a_bad_cursor_is_refused_and_changes_nothing(
    host: Host, body: Any, status: int, code: str
) -> None:
    writer, reader = host.browser(), host.browser()
    writer.say("only")
    answer = reader.client.post("/chat/read", json=body)
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["code"] == code
    assert stored_positions(host) == []


def test_a_cursor_past_the_head_says_so(host: Host) -> None:
    host.browser().say("one")
    answer = mark(host.browser(), "2")
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {"cursor": ["This cursor is ahead of the room."]}
    assert mark(host.browser(), "0", room="nobody-here").json == {
        "room": "nobody-here",
        "cursor": "0",
        "unread": 0,
        "unread_capped": False,
    }
    assert mark(host.browser(), "1", room="nobody-here").status_code == 422


def test_marking_read_needs_json_and_the_room_rules(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=["lobby"])
    reader = host.browser()
    assert reader.client.post("/chat/read", data="cursor=0").status_code == 415
    assert mark(reader, "0", room="elsewhere").status_code == 404
    refused = reader.client.post(
        "/chat/read", json={"cursor": "0"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert refused.status_code == 403


def test_a_signed_in_readers_position_follows_them_to_another_device(host: Host) -> None:
    host.add_user("ann")
    writer, laptop, phone, stranger = (host.browser() for _ in range(4))
    for n in range(3):
        writer.say(f"m{n}")
    laptop.login("ann")
    phone.login("ann")
    assert mark(laptop, "2").json["unread"] == 1
    assert rooms_unread(phone) == {"lobby": (1, False)}
    assert rooms_unread(stranger) == {"lobby": (3, False)}
    phone.say("from ann's phone")
    assert rooms_unread(laptop) == {"lobby": (1, False)}, "ann's own post is not unread"
    laptop.logout()
    assert rooms_unread(laptop) == {"lobby": (4, False)}, "signed out, the session has read none"


def test_deleted_messages_are_not_unread(host: Host) -> None:
    writer, reader = host.browser(), host.browser()
    ids = [writer.say(f"m{n}") for n in range(3)]
    assert rooms_unread(reader) == {"lobby": (3, False)}
    assert writer.delete(ids[1]).status_code == 204
    assert rooms_unread(reader) == {"lobby": (2, False)}


def test_counts_stop_at_the_limit(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_UNREAD_LIMIT=3)
    writer, reader = host.browser(), host.browser()
    for n in range(5):
        writer.say(f"m{n}")
    assert rooms_unread(reader) == {"lobby": (3, True)}
    assert mark(reader, "2").json == {
        "room": "lobby",
        "cursor": "2",
        "unread": 3,
        "unread_capped": False,
    }


def test_each_room_counts_apart(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=["lobby", "support", "games"])
    writer, reader = host.browser(), host.browser()
    post_in(writer, "support", "help")
    last = post_in(writer, "support", "anyone?")["cursor"]
    post_in(writer, "games", "gg")
    assert rooms_unread(reader) == {
        "games": (1, False),
        "lobby": (0, False),
        "support": (2, False),
    }
    assert mark(reader, last, room="support").json["unread"] == 0
    assert rooms_unread(reader)["support"] == (0, False)
    assert rooms_unread(reader)["games"] == (1, False)


def test_rooms_the_reader_may_not_read_have_no_count(host: Host) -> None:
    post_in(host.browser(), "secret", "psst")
    post_in(host.browser(), "open", "hi")
    host.webchat.read_permission(lambda room, identity: room != "secret")
    reader = host.browser()
    assert "secret" not in rooms_unread(reader)
    assert mark(reader, "0", room="secret").status_code == 403
    with host.app.app_context():
        assert {name: u.count for name, u in host.webchat.unread_counts("ann").items()} == {
            "lobby": 0,
            "open": 1,
        }


def test_the_python_api_counts_for_a_host_user(host: Host) -> None:
    host.add_user("ann")
    writer, ann = host.browser(), host.browser()
    writer.say("one")
    writer.say("two")
    post_in(writer, "support", "three")
    ann.login("ann")
    mark(ann, "1")
    with host.app.app_context():
        user = host.db.session.scalar(
            sa.select(host.user_model).where(host.user_model.name == "ann")
        )
        counts = host.webchat.unread_counts(user)
        assert {name: (u.count, u.label) for name, u in counts.items()} == {
            "lobby": (1, "1"),
            "support": (1, "1"),
        }
        only = host.webchat.unread_counts(user, rooms=["support"])
        assert list(only) == ["support"]
        with pytest.raises(TypeError):
            host.webchat.unread_counts()
    with host.app.test_request_context("/"):
        assert host.webchat.unread_counts()["lobby"].count == 2  # the request's reader: nobody


@pytest.mark.stacks(*EVERY_STACK)  # racing transactions: MySQL runs them in both modes
def test_counts_are_exact_while_others_post_and_delete(make_host: MakeHost, stack: Stack) -> None:
    """Each count, taken with the room's head in one statement, is the truth at that head."""
    options: dict[str, Any] = {"pool_size": 8, "max_overflow": 4}
    if stack.database == "sqlite":
        options["connect_args"] = {"timeout": 30}
    host = make_host(WEBCHAT_UNREAD_LIMIT=40, SQLALCHEMY_ENGINE_OPTIONS=options)
    host.add_user("ann")
    ann = host.browser()
    ann.login("ann")
    for n in range(5):
        host.browser().say(f"before {n}")
    assert mark(ann, "3").status_code == 200
    posted: dict[int, tuple[int, bool]] = {}  # id -> (cursor, written by ann)
    lock = threading.Lock()
    seen: list[unread.Unread] = []

    def write(number: int) -> None:
        browser = ann if number == 0 else host.browser()
        chooser = random.Random(number)
        mine: list[int] = []
        for n in range(30):
            answer = browser.post(f"w{number} {n}", f"w{number}")
            assert answer.status_code == 201, answer.json
            mine.append(answer.json["id"])
            with lock:
                posted[answer.json["id"]] = (int(answer.json["cursor"]), number == 0)
            if n % 3 == 2:
                assert browser.delete(mine.pop(chooser.randrange(len(mine)))).status_code == 204

    def count(done: threading.Event) -> None:
        viewer = Viewer(identity=Identity("1", "ann"), reader_key=None)
        while not done.is_set():
            with host.app.app_context():
                taken = unread.unread_counts(host.db.session, viewer, ["lobby"], limit=40)
            seen.append(taken["lobby"])

    run_together([lambda n=n: write(n) for n in range(4)], [count, count])

    with host.app.app_context():
        session = host.db.session
        room_id = session.scalar(sa.select(ChatRoom.id).where(ChatRoom.name == "lobby"))
        deleted_at = dict(
            session.execute(
                sa.select(ChatDeletion.message_id, ChatDeletion.seq).where(
                    ChatDeletion.room_id == room_id
                )
            ).all()
        )
    # The five first messages were posted by others at cursors 1 to 5; ann read up to 3.
    everything = {**posted, **{-n: (n, False) for n in (4, 5)}}

    def truth(head: int) -> int:
        return sum(
            1
            for message_id, (cursor, own) in everything.items()
            if 3 < cursor <= head and not own and deleted_at.get(message_id, head + 1) > head
        )

    assert len(seen) > 2
    wrong = [(u.head, u.count, truth(u.head)) for u in seen if u.count != min(truth(u.head), 40)]
    assert wrong == []
    assert all(u.capped == (truth(u.head) > 40) for u in seen)
    final = rooms_unread(ann)["lobby"]
    with host.app.app_context():
        head = host.db.session.scalar(sa.select(ChatRoom.last_seq).where(ChatRoom.id == room_id))
    assert final == (min(truth(head), 40), truth(head) > 40)


@pytest.mark.stacks(*EVERY_STACK)  # racing transactions: MySQL runs them in both modes
def test_racing_marks_of_one_reader_keep_the_furthest(make_host: MakeHost, stack: Stack) -> None:
    """Two devices of one user mark at once, for the first time: the greater position stays."""
    options: dict[str, Any] = {"pool_size": 8, "max_overflow": 4}
    if stack.database == "sqlite":
        options["connect_args"] = {"timeout": 30}
    host = make_host(SQLALCHEMY_ENGINE_OPTIONS=options)
    host.add_user("ann")
    writer = host.browser()
    for n in range(20):
        writer.say(f"m{n}")
    devices = [host.browser() for _ in range(4)]
    for device in devices:
        device.login("ann")
    start = threading.Barrier(len(devices))
    answers: list[Any] = []

    def marking(device: Browser, cursors: range) -> None:
        start.wait()
        for cursor in cursors:
            answers.append(mark(device, str(cursor)))

    run_together(
        [
            lambda d=device, n=n: marking(d, range(n + 1, 21, len(devices)))
            for n, device in enumerate(devices)
        ],
        [],
    )
    assert {answer.status_code for answer in answers} == {200}
    assert stored_positions(host) == [("user:1", 20)]
    assert rooms_unread(devices[0]) == {"lobby": (0, False)}
