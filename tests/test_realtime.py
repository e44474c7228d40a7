"""Long-polls and Server-Sent Events in one process: as exact as a poll, and prompt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from eventstream import EPHEMERAL, SILENT, EventStream
from flask_webchat.models import ChatRoom
from flask_webchat.notifiers import Notifier
from hosts import SAMPLE_STACKS, Browser, Host, MakeHost, Stack

# Long enough that an answer before it proves the request did not sit out its wait.
LONG_WAIT = 20


class Waiting:
    """A long-poll run in a thread, so that the test can post while it waits."""

    def __init__(self, browser: Browser, **params: Any) -> None:
        self.answer: dict[str, Any] | None = None
        self.thread = threading.Thread(target=self._run, args=(browser, params), daemon=True)
        self.thread.start()

    def _run(self, browser: Browser, params: dict[str, Any]) -> None:
        self.answer = browser.poll(**params)

    def result(self, within: float = 5.0) -> dict[str, Any]:
        self.thread.join(within)
        assert not self.thread.is_alive(), f"the long-poll did not answer within {within} s"
        assert self.answer is not None
        return self.answer

    def still_waiting(self) -> bool:
        self.thread.join(0.5)
        return self.thread.is_alive()


def contents(batch: dict[str, Any]) -> list[str]:
    return [message["content"] for message in batch["messages"]]


def test_a_long_poll_answers_at_once_when_events_are_waiting(host: Host) -> None:
    ann = host.browser()
    ann.say("already here")
    waiting = Waiting(host.browser(), after="0", wait=LONG_WAIT)
    assert contents(waiting.result()) == ["already here"]


def test_a_long_poll_answers_with_the_message_posted_while_it_waits(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    stream = bo.open_page()
    assert bo.poll(stream)["messages"] == []
    waiting = Waiting(bo, stream=stream, wait=LONG_WAIT)
    assert waiting.still_waiting()
    ann.say("hello Bo")
    batch = waiting.result()
    assert contents(batch) == ["hello Bo"]
    # The long-poll moved the stream like a poll: nothing is delivered twice.
    assert bo.poll(stream)["messages"] == []


def test_a_long_poll_wakes_for_a_deletion(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    message_id = ann.say("soon gone")
    cursor = bo.poll(after="0")["cursor"]
    waiting = Waiting(bo, after=cursor, wait=LONG_WAIT)
    assert waiting.still_waiting()
    assert ann.delete(message_id).status_code == 204
    batch = waiting.result()
    assert batch["deleted"] == [message_id]
    assert batch["messages"] == []


def test_a_long_poll_with_nothing_to_say_answers_empty_after_at_most_max_wait(
    make_host: MakeHost,
) -> None:
    host = make_host(WEBCHAT_MAX_WAIT=0.5)
    bo = host.browser()
    host.browser().say("before")
    cursor = bo.poll(after="0")["cursor"]
    waiting = Waiting(bo, after=cursor, wait=600)  # cut to WEBCHAT_MAX_WAIT
    empty = {
        "messages": [],
        "deleted": [],
        "updated": [],
        "cursor": cursor,
        "more": False,
        "stream": None,
    }
    assert waiting.result() == empty


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@pytest.mark.parametrize("wait", ["-1", "soon", "nan", "inf"])
def test_a_bad_wait_is_refused_with_the_field_named(browser: Browser, wait: str) -> None:
    response = browser.poll_response(after="0", wait=wait)
    assert response.status_code == 422
    assert "wait" in response.json["error"]["fields"]


def test_a_stream_woken_while_the_wake_up_is_still_delivered_goes_on_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under gevent, a reader that comes to wait on a wake-up already set (a presence nudge
    came while it read) goes on without parking. gevent parks such a waiter until the set is
    delivered to the earlier ones, with no timeout: in a storm of thousands of joining streams,
    those parked were never woken again, and never got another message."""
    gevent = pytest.importorskip("gevent")
    monkeypatch.setattr(threading, "Event", gevent.event.Event)  # what gunicorn's worker patches
    notifier = Notifier()
    wakeup = notifier.watch("lobby")
    earlier = gevent.spawn(wakeup.wait, LONG_WAIT)
    gevent.sleep(0)  # the earlier reader sleeps on the wake-up
    notifier.nudge("lobby")  # its delivery is still to come
    assert wakeup.wait(LONG_WAIT) is True
    assert not earlier.ready(), "the reader waited for the others' delivery"
    assert earlier.get(timeout=1) is True


def test_a_lost_notification_delays_delivery_by_at_most_the_fallback(
    make_host: MakeHost,
) -> None:
    # A notifier that never announces anything: only the fallback check can deliver.
    host = make_host(WEBCHAT_NOTIFIER=Notifier(), WEBCHAT_FALLBACK_POLL=0.3)
    ann, bo = host.browser(), host.browser()
    waiting = Waiting(bo, after="0", wait=LONG_WAIT)
    assert waiting.still_waiting()
    ann.say("found by the fallback")
    assert contents(waiting.result()) == ["found by the fallback"]


def test_events_stream_the_backlog_then_each_new_message_and_deletion(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_HEARTBEAT=0.3)
    ann, bo = host.browser(), host.browser()
    first = ann.say("first")
    stream = bo.open_page()
    events = bo.events(stream=stream)
    (backlog,) = events.take(1)
    assert (backlog.type, backlog.data["id"], backlog.data["content"]) == (
        "message",
        first,
        "first",
    )
    assert backlog.id == backlog.data["cursor"]
    assert events.retry == 2000

    # Posted from another thread while the stream waits: the stream wakes for it.
    threading.Timer(0.2, lambda: ann.say("second")).start()
    (second,) = events.take(1)
    assert second.data["content"] == "second"
    assert int(second.id) > int(backlog.id)

    threading.Timer(0.2, lambda: ann.delete(first)).start()
    (deletion,) = events.take(1)
    assert deletion.type == "delete"
    assert deletion.data == {"id": first, "cursor": deletion.id}
    events.close()

    # The stream moved with every event: a poll of the same tab has nothing left.
    assert bo.poll(stream) == {**bo.poll(stream), "messages": [], "deleted": []}


def test_events_send_a_heartbeat_while_the_room_is_quiet(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    events = host.browser().events(after="0")
    assert events.quiet_for(comments=2) == []
    events.close()


def test_a_reconnection_with_last_event_id_gets_exactly_what_was_missed(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    for n in range(3):
        ann.say(f"seen {n}")
    stream = bo.open_page()
    events = bo.events(stream=stream)
    assert [e.data["content"] for e in events.take(3)] == ["seen 0", "seen 1", "seen 2"]
    events.close()

    missed = [ann.say(f"missed {n}") for n in range(5)]
    events = bo.events(stream=stream, last_event_id=events.last_event_id)
    assert [e.data["id"] for e in events.take(5)] == missed
    events.close()


def test_a_stream_that_lost_an_answer_on_the_way_resumes_from_the_clients_cursor(
    host: Host,
) -> None:
    ann, bo = host.browser(), host.browser()
    stream = bo.open_page()
    cursor = bo.poll(stream)["cursor"]
    ann.say("lost on the way")
    bo.poll(stream)  # delivered by the server, never received by the tab
    # The tab says where it really is; the stream goes back there.
    assert contents(bo.poll(stream, after=cursor)) == ["lost on the way"]
    assert bo.poll(stream)["messages"] == []


def test_a_tab_can_switch_between_events_long_polls_and_polls(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    ann, bo = host.browser(), host.browser()
    stream = bo.open_page()
    ann.say("one")
    events = bo.events(stream=stream)
    assert [e.data["content"] for e in events.take(1)] == ["one"]
    events.close()
    ann.say("two")
    assert contents(bo.poll(stream, wait=LONG_WAIT)) == ["two"]
    ann.say("three")
    assert contents(bo.poll(stream)) == ["three"]
    ann.say("four")
    events = bo.events(stream=stream)
    assert [e.data["content"] for e in events.take(1)] == ["four"]
    events.close()


def test_events_refuse_an_unknown_stream_or_a_bad_cursor_with_json(browser: Browser) -> None:
    unknown = browser.events_response(stream="no-such-stream")
    assert unknown.status_code == 404
    assert unknown.json["error"]["code"] == "unknown_stream"
    bad = browser.events_response(last_event_id="yesterday")
    assert bad.status_code == 422
    assert bad.json["error"]["fields"] == {"Last-Event-ID": ["Not a valid cursor."]}
    ahead = browser.events_response(after="99")
    assert ahead.status_code == 422
    assert "after" in ahead.json["error"]["fields"]


def test_head_of_events_opens_nothing(host: Host) -> None:
    response = host.app.test_client().head("/chat/events")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.get_data() == b""


def test_waiting_readers_hold_no_database_connection(make_host: MakeHost) -> None:
    # One connection in the pool: if a waiting reader kept one, the post below could not run.
    host = make_host(
        # Well under LONG_WAIT, so a reader holding the connection while it waits still fails
        # the post; long enough for four requests taking turns on a loaded machine.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 10},
        WEBCHAT_HEARTBEAT=0.2,
    )
    readers = []
    for name in ("ann", "bo", "chen"):
        host.add_user(name)
        reader = host.browser()
        reader.login(name)  # the identity loader reads the host's db in each of their requests
        readers.append(reader)
    waiters = [Waiting(reader, after="0", wait=LONG_WAIT) for reader in readers[1:]]
    events = readers[0].events(after="0")
    assert all(waiting.still_waiting() for waiting in waiters)
    poster = host.browser()
    threading.Timer(0.3, lambda: poster.say("while three wait")).start()
    assert [e.data["content"] for e in events.take(1, within=15)] == ["while three wait"]
    events.close()
    for waiting in waiters:
        assert contents(waiting.result()) == ["while three wait"]


def test_events_ask_the_hosts_permission_hook_with_a_live_user(make_host: MakeHost) -> None:
    # A streamed answer outlives the request's db.session; the hook still reads the user.
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    host.add_user("mod", moderator=True)
    moderator = host.browser()
    moderator.login("mod")
    events = moderator.events(after="0")
    writer = host.browser()
    threading.Timer(0.2, lambda: writer.say("moderate me")).start()
    (event,) = events.take(1)
    assert (event.data["mine"], event.data["can_delete"]) == (False, True)
    events.close()


def test_readers_woken_together_share_one_read_and_ask_again_without_one(
    make_host: MakeHost,
) -> None:
    # No check for lost notifications during the test: what is counted is the readers' reads.
    host = make_host(WEBCHAT_FALLBACK_POLL=60)
    ann = host.browser()
    ann.say("before")
    cursor = ann.poll(after="0")["cursor"]
    waiting_reads: list[str] = []  # the readers' statements, not the poster's
    poster = threading.get_ident()
    with host.app.app_context():
        engine = host.db.engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() != poster and "webchat_" in statement:
            waiting_reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    browsers = [host.browser() for _ in range(20)]
    waiters = [Waiting(browser, after=cursor, wait=LONG_WAIT) for browser in browsers]
    # Each reader reads the room's head once before it sleeps: then all twenty are waiting.
    deadline = time.monotonic() + 10
    while len(waiting_reads) < len(waiters) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(waiting.thread.is_alive() for waiting in waiters)
    waiting_reads.clear()
    ann.say("for everyone")
    answers = [waiting.result() for waiting in waiters]
    assert all(contents(answer) == ["for everyone"] for answer in answers)
    # One read (the room's head, its events, the messages' details) served all twenty; a
    # reader that woke late may have read again. Not one head read per reader.
    heads = [s for s in waiting_reads if "FROM webchat_rooms" in s]
    assert 1 <= len(heads) <= 3, waiting_reads
    assert len(waiting_reads) <= 3 * 6, waiting_reads
    # Each asks again from where the answer left it: nothing new there, and no read needed.
    waiting_reads.clear()
    again = [
        Waiting(b, after=a["cursor"], wait=0.5) for b, a in zip(browsers, answers, strict=True)
    ]
    assert all(contents(waiting.result()) == [] for waiting in again)
    sa.event.remove(engine, "before_cursor_execute", record)
    assert waiting_reads == []


def _recording_reads(host: Host) -> tuple[list[str], Callable[[], None]]:
    """The chat's SQL statements from now on, and how to stop recording them."""
    reads: list[str] = []
    with host.app.app_context():
        engine = host.db.engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "webchat_" in statement:
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return reads, lambda: sa.event.remove(engine, "before_cursor_execute", record)


def test_an_idle_event_stream_sends_heartbeats_without_reading(make_host: MakeHost) -> None:
    # No check for lost notifications during the test: what is left is the readers' own reads.
    host = make_host(WEBCHAT_HEARTBEAT=0.1, WEBCHAT_FALLBACK_POLL=60)
    ann = host.browser()
    ann.say("before")
    events = ann.events(after="0")
    assert [event.type for event in events.quiet_for(comments=1)] == ["message"]
    reads, stop = _recording_reads(host)
    try:
        assert events.quiet_for(comments=10) == []
        assert reads == []  # ten heartbeats, and not one query
        ann.say("after")  # and it still hears the next post at once
        assert [event.data["content"] for event in events.quiet_for(comments=1)] == ["after"]
    finally:
        stop()
        events.close()


def _in_another_thread(request: Callable[[], Any]) -> Any:
    """Make a request from a thread of its own.

    A suspended event stream keeps its app context pushed in the thread that reads it, and a
    request made there would share it (its g, its identity), as no server does.
    """
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(request()))
    thread.start()
    thread.join(10)
    return answers[0]


def _team_stream(host: Host, read_permission: Any) -> tuple[Browser, Browser, EventStream]:
    """Ann reading the team room's events (as the hook allows), and Bo, who may post there."""
    host.webchat.read_permission(read_permission)
    ann, bo = host.browser(), host.browser()
    for browser, name in [(ann, "ann"), (bo, "bo")]:
        host.add_user(name)
        browser.login(name)
    return ann, bo, ann.events_for("/chat/rooms/team/events", after="0")


def _revoked(events: EventStream) -> list[Any]:
    """What the stream sends next, heartbeats aside: the revocation, and nothing else."""
    time.sleep(0.3)  # the documented bound: access is asked again once per heartbeat interval
    kept = [events.next(), events.next()]
    return [e for e in kept if e is not None and e.type not in SILENT | EPHEMERAL]


def test_an_open_stream_ends_once_its_reader_may_no_longer_read(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    members = {"ann", "bo"}
    _, bo, events = _team_stream(
        host, lambda room, who: room != "team" or (who is not None and who.name in members)
    )

    def post(content: str) -> None:
        body = {"content": content}
        answer = _in_another_thread(lambda: bo.client.post("/chat/rooms/team/messages", json=body))
        assert answer.status_code == 201, answer.json

    post("while a member")
    assert [e.data["content"] for e in events.take(1)] == ["while a member"]
    members.discard("ann")  # the host removes ann from the room
    time.sleep(0.3)
    post("after she left")
    assert [(e.type, e.data["code"]) for e in _revoked(events)] == [("revoked", "forbidden")]
    assert events.next() is None  # the stream has ended
    events.close()


def test_a_logout_ends_an_open_stream_with_a_server_side_session(
    make_host: MakeHost, stack: Stack
) -> None:
    if stack.sessions == "signed-cookie":
        pytest.skip("a signed cookie cannot change under a request that already sent it")
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    ann, bo, events = _team_stream(host, lambda room, who: room != "team" or who is not None)
    assert events.quiet_for(comments=1) == []
    _in_another_thread(ann.logout)
    body = {"content": "after the logout"}
    _in_another_thread(lambda: bo.client.post("/chat/rooms/team/messages", json=body))
    assert [e.type for e in _revoked(events)] == ["revoked"]
    events.close()


def test_a_poll_repeated_in_a_quiet_room_reads_nothing_until_someone_writes(
    make_host: MakeHost,
) -> None:
    # A notifier that announces nothing, as Redis's echo of this process's own write comes late.
    host = make_host(WEBCHAT_NOTIFIER=Notifier(), WEBCHAT_FALLBACK_POLL=60)
    ann, bo = host.browser(), host.browser()
    ann.say("before")
    tab = bo.open_page()
    assert contents(bo.poll(tab)) == ["before"]
    cursor = bo.poll(tab)["cursor"]  # the room is quiet: this read is kept
    reads, stop = _recording_reads(host)
    try:
        for _ in range(5):
            answer = bo.poll(tab)
            assert (answer["messages"], answer["cursor"]) == ([], cursor)
        assert reads == []
        ann.say("after")  # a write of this process is read by the very next poll
        assert contents(bo.poll(tab)) == ["after"]
        assert contents(bo.poll(tab)) == []
    finally:
        stop()


def test_a_write_committed_while_a_poll_begins_is_not_kept_from_it(make_host: MakeHost) -> None:
    # The host reads its user before the chat reads (a transaction the host began): on MySQL
    # and MariaDB that read fixes what the whole transaction sees. A write that commits and is
    # announced right after it must still reach this poll or the next, not wait for the
    # fallback period as a "quiet" answer.
    host = make_host(WEBCHAT_FALLBACK_POLL=60)
    ann, bo = host.browser(), host.browser()
    write_now = threading.Event()

    @host.app.before_request
    def load_the_user() -> None:
        host.db.session.execute(sa.select(sa.func.count()).select_from(ChatRoom)).scalar()
        if write_now.is_set():
            write_now.clear()
            _in_another_thread(lambda: ann.say("while bo's poll began"))

    tab = bo.open_page()
    assert bo.poll(tab)["messages"] == []
    write_now.set()
    received = contents(bo.poll(tab)) + contents(bo.poll(tab))
    assert received == ["while bo's poll began"]


def test_a_write_another_process_has_not_announced_reaches_a_repeated_poll_once(
    make_host: MakeHost,
) -> None:
    # Two apps on one database, whose in-memory notifiers never hear of each other's writes:
    # only the kept answer's age limit, the fallback period, lets the reader see them.
    here = make_host(WEBCHAT_FALLBACK_POLL=0.5)
    elsewhere = make_host(fresh=False)
    bo = here.browser()
    tab = bo.open_page()
    assert bo.poll(tab)["messages"] == []
    bo.poll(tab)  # kept
    elsewhere.browser().say("from another process")
    received: list[str] = []
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        received += contents(bo.poll(tab))
        time.sleep(0.05)
    assert received == ["from another process"]
    assert bo.poll(tab)["messages"] == []
