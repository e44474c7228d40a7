"""Reading the room: every message and every deletion reaches every reader, exactly once.

The first four tests are the scenarios the original row-count offset got wrong.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from flask_webchat.models import ChatStream, utcnow
from hosts import Browser, Host, MakeHost


def ids(batch: dict) -> list[int]:
    return [m["id"] for m in batch["messages"]]


def test_a_deletion_by_someone_else_does_not_hide_the_next_message(host: Host) -> None:
    alice, bob = host.browser(), host.browser()
    stream = alice.open_page()
    posted = [bob.say(f"message {n}") for n in range(1, 11)]
    assert ids(alice.poll(stream)) == posted

    assert bob.delete(posted[2]).status_code == 204
    eleventh = bob.say("message 11")

    batch = alice.poll(stream)
    assert ids(batch) == [eleventh]
    assert batch["deleted"] == [posted[2]]


def test_a_new_message_never_takes_the_id_of_a_deleted_one(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    tab = reader.open_page()
    newest = writer.say("deleted right away")
    writer.delete(newest)
    replacement = writer.say("posted after the delete")
    assert replacement != newest

    batch = reader.poll(tab)
    assert ids(batch) == [replacement]
    assert batch["deleted"] == [newest]


def test_two_tabs_of_one_browser_each_receive_every_message(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    first_tab, second_tab = reader.open_page(), reader.open_page()
    sent = [writer.say("one"), writer.say("two")]

    assert ids(reader.poll(first_tab)) == sent
    assert ids(reader.poll(second_tab)) == sent
    third = writer.say("three")
    assert ids(reader.poll(second_tab)) == [third]
    assert ids(reader.poll(first_tab)) == [third]


def test_a_poll_with_nothing_new_is_empty_and_keeps_the_cursor(browser: Browser) -> None:
    stream = browser.open_page()
    browser.say("hello")
    first = browser.poll(stream)
    second = browser.poll(stream)
    assert second["messages"] == [] and second["deleted"] == []
    assert second["cursor"] == first["cursor"]


def test_reloading_starts_a_fresh_stream_and_the_old_tab_keeps_working(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    old_tab = reader.open_page()
    backlog = [writer.say("before reload 1"), writer.say("before reload 2")]
    assert ids(reader.poll(old_tab)) == backlog

    new_tab = reader.open_page()
    assert new_tab != old_tab
    assert ids(reader.poll(new_tab)) == backlog  # a fresh page shows the backlog again
    after = writer.say("after reload")
    assert ids(reader.poll(old_tab)) == [after]
    assert ids(reader.poll(new_tab)) == [after]


def test_a_session_keeps_a_bounded_number_of_streams(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_MAX_STREAMS=3)
    reader = host.browser()
    tabs = [reader.open_page() for _ in range(4)]

    gone = reader.poll_response(tabs[0])
    assert gone.status_code == 404
    assert gone.json["error"]["code"] == "unknown_stream"
    for tab in tabs[1:]:
        assert reader.poll_response(tab).status_code == 200


def test_a_new_page_starts_with_the_newest_backlog_messages(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_BACKLOG=5)
    writer, reader = host.browser(), host.browser()
    posted = [writer.say(f"m{n}") for n in range(8)]
    writer.delete(posted[-2])

    batch = reader.poll(reader.open_page())
    assert ids(batch) == posted[2:6] + posted[7:]


def test_a_deletion_reaches_every_reader_once(host: Host) -> None:
    author, reader = host.browser(), host.browser()
    tab = reader.open_page()
    message = author.say("soon gone")
    assert ids(reader.poll(tab)) == [message]

    assert author.delete(message).status_code == 204
    assert reader.poll(tab)["deleted"] == [message]
    assert reader.poll(tab)["deleted"] == []


def test_polling_without_a_stream_reads_like_the_original(host: Host) -> None:
    # The original's curl workflow: load the page once, then poll with the same cookies.
    reader, writer = host.browser(), host.browser()
    writer.say("before")
    reader.open_page()
    assert [m["content"] for m in reader.poll()["messages"]] == ["before"]
    writer.say("after")
    assert [m["content"] for m in reader.poll()["messages"]] == ["after"]
    assert reader.poll()["messages"] == []
    reader.open_page()  # loading the page starts over from the backlog, as it did
    assert [m["content"] for m in reader.poll()["messages"]] == ["before", "after"]


def test_polling_without_a_stream_takes_nothing_from_an_open_tab(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    tab = reader.open_page()
    message = writer.say("for everyone")
    assert ids(reader.poll()) == [message]
    assert ids(reader.poll(tab)) == [message]


def test_polling_without_a_page_opens_a_stream_for_the_session(browser: Browser) -> None:
    browser.say("first")
    batch = browser.poll()
    assert [m["content"] for m in batch["messages"]] == ["first"]
    assert browser.poll()["stream"] == batch["stream"]


def test_a_head_request_moves_nothing(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_MAX_STREAMS=1)
    reader, writer = host.browser(), host.browser()
    tab = reader.open_page()
    message = writer.say("still unread")

    assert reader.client.head("/chat/messages", query_string={"stream": tab}).status_code == 200
    assert reader.client.head("/chat/messages").status_code == 200
    page = reader.client.head("/chat/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert ids(reader.poll(tab)) == [message]  # not consumed, and not pushed out by a new stream


def test_an_idle_stream_expires_and_the_cursor_carries_on(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_STREAM_TTL=60)
    reader, writer = host.browser(), host.browser()
    tab = reader.open_page()
    writer.say("seen")
    cursor = reader.poll(tab)["cursor"]
    with host.app.app_context():
        host.db.session.execute(
            sa.update(ChatStream).values(active_at=utcnow() - timedelta(seconds=61))
        )
        host.db.session.commit()
    writer.open_page()  # opening any stream sweeps the idle ones
    missed = writer.say("while idle")

    gone = reader.poll_response(tab)
    assert gone.status_code == 404 and gone.json["error"]["code"] == "unknown_stream"
    assert ids(reader.poll(after=cursor)) == [missed]


def test_a_stream_of_another_session_is_unknown(host: Host) -> None:
    owner, stranger = host.browser(), host.browser()
    tab = owner.open_page()
    owner.say("private cursor")
    response = stranger.poll_response(tab)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "unknown_stream"
    assert ids(owner.poll(tab)) != []  # the stranger did not consume the owner's events


def test_after_reads_statelessly_from_any_cursor(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    tab = reader.open_page()
    first = writer.say("one")
    cursor = reader.poll(after="0")["cursor"]
    second = writer.say("two")

    assert ids(reader.poll(after=cursor)) == [second]
    assert ids(reader.poll(after=cursor)) == [second]  # nothing remembered
    assert ids(reader.poll(after="0")) == [first, second]
    assert ids(reader.poll(tab)) == [first, second]  # the tab's stream did not move


def test_limit_splits_a_long_batch_without_losing_events(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_BACKLOG=0)
    reader, writer = host.browser(), host.browser()
    tab = reader.open_page()
    posted = [writer.say(f"m{n}") for n in range(7)]
    writer.delete(posted[1])
    writer.delete(posted[5])
    extra = writer.say("m7")

    received: list[int] = []
    deleted: list[int] = []
    more = True
    while more:
        batch = reader.poll(tab, limit=2)
        assert len(batch["messages"]) + len(batch["deleted"]) <= 2
        received += ids(batch)
        deleted += batch["deleted"]
        more = batch["more"]
    assert reader.poll(tab)["messages"] == []
    survivors = [p for p in posted if p not in (posted[1], posted[5])] + [extra]
    assert received == survivors
    assert deleted == [posted[1], posted[5]]


def test_messages_arrive_oldest_first_with_their_fields(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    tab = reader.open_page()
    writer.say("first", username="Ann")
    writer.say("second", username="Ben")
    batch = reader.poll(tab)
    assert [(m["username"], m["content"]) for m in batch["messages"]] == [
        ("Ann", "first"),
        ("Ben", "second"),
    ]
    message = batch["messages"][0]
    assert set(message) == {
        "id",
        "cursor",
        "username",
        "content",
        "created_at",
        "anonymous",
        "mine",
        "can_delete",
        "system",
        "edited_at",
        "reply_to",
        "reactions",
        "mentions",
    }
    assert message["created_at"].endswith("Z")
    assert message["edited_at"] is None and message["reply_to"] is None
    assert message["reactions"] == [] and message["mentions"] == []
    assert message["anonymous"] is True and message["system"] is False
    assert message["mine"] is False and message["can_delete"] is False


def test_bad_poll_parameters_are_refused(browser: Browser) -> None:
    browser.say("x")
    cases = {
        "after": {"after": "-1"},
        "limit": {"limit": "lots"},
        "stream": {"stream": "not a token!"},
    }
    for field, params in cases.items():
        response = browser.poll_response(**params)
        assert response.status_code == 422, params
        assert field in response.json["error"]["fields"]
    ahead = browser.poll_response(after="999")
    assert ahead.status_code == 422
    assert ahead.json["error"]["fields"] == {"after": ["This cursor is ahead of the room."]}


def test_reading_after_a_messages_cursor_continues_just_past_it(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    posted = [writer.say(f"m{n}") for n in range(4)]
    writer.delete(posted[1])
    messages = reader.poll(after="0")["messages"]
    cursors = [int(m["cursor"]) for m in messages]
    assert cursors == sorted(set(cursors))  # strictly increasing

    batch = reader.poll(after=messages[0]["cursor"])
    assert ids(batch) == posted[2:]
    assert batch["deleted"] == [posted[1]]
