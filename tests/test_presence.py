"""Who is here and who is typing, in one process: ``GET /presence``, polls, event streams."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import pytest

from eventstream import Event, EventStream
from flask_webchat import Identity, heartbeats
from flask_webchat.heartbeats import Member
from flask_webchat.notifiers.memory import MemoryNotifier
from flask_webchat.presence import PresenceHub
from hosts import EVERY_DATABASE, Browser, Host, MakeHost
from processes import wait_until
from test_realtime import _in_another_thread as elsewhere

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)

PRESENCE, TYPING = frozenset({"presence"}), frozenset({"typing"})


def signed_in(host: Host, name: str) -> Browser:
    host.add_user(name)
    browser = host.browser()
    browser.login(name)
    return browser


def opened(browser: Browser, path: str = "/chat/events", **params: Any) -> EventStream:
    """An event stream that has begun (its reader is held from its first event on)."""
    stream = browser.events_for(path, **params)
    assert stream.next() is not None  # the opening cursor
    return stream


class Listener:
    """An event stream read in a thread of its own, as each browser tab is its own request.

    (Two streams suspended in one thread would share one app context, hence one identity.)
    """

    def __init__(self, browser: Browser, **params: Any) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.started, self.stopped = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._read, args=(browser, params), daemon=True)
        self.thread.start()
        assert self.started.wait(5), "the stream did not begin"

    def _read(self, browser: Browser, params: dict[str, Any]) -> None:
        stream = opened(browser, **params)
        self.started.set()
        while not self.stopped.is_set():  # a heartbeat comes every WEBCHAT_HEARTBEAT
            event = stream.next()
            if event is None:
                break
            self.events.put(event)
        stream.close()

    def take(self, kinds: frozenset[str]) -> Event:
        """The next event of ``kinds`` (within 5 s)."""
        deadline = time.monotonic() + 5
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event.type in kinds:
                return event

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)


def here(browser: Browser, room: str | None = None) -> dict[str, Any]:
    path = f"/chat/rooms/{room}/presence" if room else "/chat/presence"
    answer = elsewhere(lambda: browser.client.get(path))
    assert answer.status_code == 200, answer.json
    return answer.json  # type: ignore[no-any-return]


def next_presence(events: EventStream, wanted: dict[str, Any], *, within: float = 5.0) -> None:
    """Read ``presence`` events until one says ``wanted``; each carries no ``id:``."""
    before = events.last_event_id
    while True:
        (event,) = events.take(1, within=within, kinds=PRESENCE)
        assert event.id is None and events.last_event_id == before
        if event.data == wanted:
            return


def test_signed_in_users_are_listed_once_however_many_tabs_and_guests_counted(
    make_host: MakeHost,
) -> None:
    host = make_host()
    ana = signed_in(host, "Ana")
    tabs = [opened(ana), opened(ana)]
    guest = host.browser()
    stream = elsewhere(guest.open_page)
    elsewhere(lambda: guest.poll(stream))  # a poll keeps its reader present for a while
    lurker = host.browser()
    elsewhere(lurker.poll)  # no cookie, no stream: nobody to count
    wait_until(lambda: here(lurker) == {"room": "lobby", "users": ["Ana"], "guests": 1}, "both")
    assert here(lurker, "support") == {"room": "support", "users": [], "guests": 0}
    for tab in reversed(tabs):  # streams of one thread end in the order they nest
        tab.close()


def test_a_stream_hears_joins_and_leaves_as_events_that_move_no_cursor(
    make_host: MakeHost,
) -> None:
    # Presence is a state, not a history: a join that is over before the stream's next event
    # is never shown. So Bo stays long enough to be seen on a busy machine.
    host = make_host(WEBCHAT_PRESENCE_GRACE=3.0, WEBCHAT_PRESENCE_HEARTBEAT=0.5)
    ana, bo = signed_in(host, "Ana"), signed_in(host, "Bo")
    events = opened(ana, after="0")
    next_presence(events, {"users": ["Ana"], "guests": 0})
    elsewhere(lambda: bo.poll(after="0"))  # Bo polls once, then goes
    next_presence(events, {"users": ["Ana", "Bo"], "guests": 0})
    # Once the grace period is over.
    next_presence(events, {"users": ["Ana"], "guests": 0}, within=10.0)
    message = elsewhere(lambda: bo.say("still here?"))
    (event,) = events.take(1)  # the history goes on where it was
    assert (event.type, event.id, event.data["id"]) == ("message", "1", message)
    events.close()


_NAMED = {"after": "0", "presence_id": "tab-0123456789abcdef"}


def _a_first_visit_that_posted(make_host: MakeHost) -> tuple[Browser, Browser, Listener]:
    """A lurker, and a guest whose sessionless stream was counted before its first post (the
    post made its session); that stream stays open, as it may for a while in a browser."""
    host = make_host(WEBCHAT_HEARTBEAT=0.2)  # so that a Listener closes within 0.2 s
    lurker, guest = host.browser(), host.browser()
    sessionless = Listener(guest, **_NAMED)
    wait_until(lambda: here(lurker)["guests"] == 1, "the first visit counted")
    elsewhere(lambda: guest.say("hello"))
    return lurker, guest, sessionless


def _guests_seen(lurker: Browser) -> set[int]:
    """Every guest count the lurker sees for 2.5 s: beyond a heartbeat's gap, so that any
    double count shows."""
    seen = set()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        seen.add(here(lurker)["guests"])
        time.sleep(0.05)
    return seen


def test_a_first_visit_that_posts_and_reopens_its_stream_is_one_guest(
    make_host: MakeHost,
) -> None:
    # The page's client on a first visit: it reads by cursor with no session, pauses reading
    # for its first post (which makes the session), then reopens its stream from the same
    # cursor. The server notices the old connection closed only when it next writes to it: here
    # it stays open throughout, as it may for a while in a browser.
    lurker, guest, sessionless = _a_first_visit_that_posted(make_host)
    reopened = Listener(guest, **_NAMED)
    assert _guests_seen(lurker) == {1}
    sessionless.close()  # noticed closed at last: the guest is still there, once
    assert here(lurker) == {"room": "lobby", "users": [], "guests": 1}
    reopened.close()


def test_a_poll_between_the_first_post_and_the_reopened_stream_counts_the_guest_once(
    make_host: MakeHost,
) -> None:
    # The page's client reads once more by poll after its first post, before it reopens its
    # stream; that poll has the session the post made. Counted as the session's guest beside
    # the old connection, the one visitor showed as "2 guests" until the stream reopened.
    lurker, guest, sessionless = _a_first_visit_that_posted(make_host)
    assert [m["content"] for m in guest.poll(**_NAMED)["messages"]] == ["hello"]
    assert _guests_seen(lurker) == {1}
    sessionless.close()


def test_a_connection_of_a_guest_without_a_session_or_presence_id_leaves_when_it_ends(
    make_host: MakeHost,
) -> None:
    # Nobody can come back under a one-connection key: kept for the grace period (30 s), it
    # would only count the reader twice once it reconnects.
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    lurker = host.browser()
    stream = Listener(host.browser(), after="0")
    wait_until(lambda: here(lurker)["guests"] == 1, "the connection counted")
    stream.close()
    wait_until(lambda: here(lurker)["guests"] == 0, "gone with its connection", within=3)


def test_readers_coming_and_going_all_the_time_wake_the_heartbeat_once_a_gap() -> None:
    # A change within MIN_GAP of the last heartbeat waits for the gap: the heartbeat sleeps
    # until then. It used to loop on its pending change instead, half a worker's CPU while
    # thousands of readers joined.
    notifier = MemoryNotifier()
    hub = PresenceHub(notifier, grace=30.0, interval=10.0, limit=100, secret=b"s" * 32)
    rounds = 0
    expire = hub._expire

    def counted(now: float) -> None:
        nonlocal rounds
        rounds += 1
        expire(now)

    hub._expire = counted  # type: ignore[method-assign]
    try:
        began = time.monotonic()
        while time.monotonic() - began < 2.5:
            hub.release(hub.hold("lobby", Member("guest", None)), linger=False)
            time.sleep(0.005)
    finally:
        notifier.close()
    # One round per MIN_GAP (1 s), and one more for each wait that ended early.
    assert 2 <= rounds <= 6, f"{rounds} rounds of the heartbeat in 2.5 s"


def test_a_reader_replaced_on_another_process_is_dropped_there_too() -> None:
    # The old sessionless stream may be held by one process, the reopened one by another.
    def hub(notifier: MemoryNotifier) -> PresenceHub:
        return PresenceHub(notifier, grace=30.0, interval=10.0, limit=100, secret=b"s" * 32)

    def guests(of: PresenceHub) -> set[str]:
        return {g for text in of.heartbeat() for g in json.loads(text)["r"]["lobby"]["g"]}

    told: list[str] = []
    first, second = MemoryNotifier(), MemoryNotifier()
    second.publish_ephemeral = told.append  # type: ignore[method-assign]
    old, new = hub(first), hub(second)
    old.hold("lobby", Member("sessionless", None))
    new.hold("lobby", Member("with-session", None), replaces="sessionless")
    for payload in told:
        old.receive(payload)
    assert (guests(old), guests(new)) == (set(), {"with-session"})
    first.close()
    second.close()


def test_a_connection_counted_after_its_replacement_is_not_counted_again() -> None:
    # On a slow machine the old sessionless stream can register after the reopened one replaced
    # it, and another process's heartbeat that names it can arrive after the replacement: the
    # page showed "2 guests" for one visitor until the old connection was noticed closed.
    notifier = MemoryNotifier()
    hub = PresenceHub(notifier, grace=30.0, interval=10.0, limit=100, secret=b"s" * 32)
    try:
        hub.hold("lobby", Member("with-session", None), replaces="sessionless")
        hub.hold("lobby", Member("sessionless", None))
        hub.touch("lobby", Member("sessionless", None))
        listed = {g for text in hub.heartbeat() for g in json.loads(text)["r"]["lobby"]["g"]}
        assert listed == {"with-session"}
        elsewhere = {"lobby": {"sessionless": Member("sessionless", None)}}
        for payload in heartbeats.heartbeat("another-process", elsewhere, 100):
            hub.receive(payload)
        assert hub.summary("lobby").guests == 0  # this process's own readers arrive by echo
    finally:
        notifier.close()


def test_a_client_that_keeps_naming_its_old_guest_tells_the_other_processes_once() -> None:
    # The page's client sends its presence_id with every poll after its first post: each one
    # replaces that guest again, but other processes need hearing it only once.
    notifier = MemoryNotifier()
    told: list[str] = []
    notifier.publish_ephemeral = told.append  # type: ignore[method-assign]
    hub = PresenceHub(notifier, grace=30.0, interval=10.0, limit=100, secret=b"s" * 32)
    try:
        for _ in range(3):
            hub.touch("lobby", Member("with-session", None), replaces="sessionless")
        hub.hold("lobby", Member("with-session", None), replaces="sessionless")
        gone = [json.loads(payload) for payload in told if json.loads(payload)["k"] == "g"]
        assert gone == [{"k": "g", "r": "lobby", "m": "sessionless"}]
    finally:
        notifier.close()


def test_polls_answer_presence_only_when_asked(make_host: MakeHost) -> None:
    host = make_host()
    ana = signed_in(host, "Ana")
    assert "presence" not in ana.poll(after="0")
    wait_until(
        lambda: ana.poll(after="0", presence="true")["presence"] == {"users": ["Ana"], "guests": 0},
        "Ana sees herself",
    )


def test_a_long_poll_that_asked_answers_when_someone_joins(make_host: MakeHost) -> None:
    host = make_host()
    ana, bo = signed_in(host, "Ana"), signed_in(host, "Bo")
    cursor = ana.poll(after="0")["cursor"]
    wait_until(lambda: here(ana)["users"] == ["Ana"], "Ana present")
    answer: dict[str, Any] = {}
    waiting = threading.Thread(
        target=lambda: answer.update(ana.poll(after=cursor, wait=20, presence="true"))
    )
    waiting.start()
    time.sleep(0.5)
    bo.poll(after="0")
    waiting.join(10)
    assert not waiting.is_alive(), "the long-poll was not told of Bo"
    assert answer["messages"] == [] and answer["cursor"] == cursor
    assert answer["presence"] == {"users": ["Ana", "Bo"], "guests": 0}


def test_typing_reaches_the_others_streams_is_limited_and_a_post_clears_it(
    make_host: MakeHost,
) -> None:
    host = make_host(WEBCHAT_HEARTBEAT=0.2)
    ana, bo = signed_in(host, "Ana"), signed_in(host, "Bo")
    ana_events, bo_events = Listener(ana, after="0"), Listener(bo, after="0")

    def typing(browser: Browser, body: Any = None) -> Any:
        return browser.client.post("/chat/typing", json=body or {})

    assert typing(bo).status_code == 204
    event = ana_events.take(TYPING)
    assert (event.id, event.data) == (None, {"name": "Bo", "typing": True})
    again = typing(bo)
    assert (again.status_code, again.json["error"]["code"]) == (429, "rate_limited")
    assert int(again.headers["Retry-After"]) >= 1
    assert typing(ana).status_code == 204
    event = bo_events.take(TYPING)  # Ana's: Bo never hears his own
    assert event.data == {"name": "Ana", "typing": True}

    message = bo.say("done typing")
    # Both come, in either order: what is not in the history is not ordered with it.
    got = [ana_events.take(TYPING | {"message"}) for _ in range(2)]
    assert sorted((e.type, e.data.get("id"), e.data.get("typing")) for e in got) == [
        ("message", message, None),
        ("typing", None, False),
    ]
    assert [m.content for m in host.stored_messages()] == ["done typing"]  # typing stored nothing
    ana_events.close()
    bo_events.close()


def test_a_guest_types_under_the_name_they_post_under(make_host: MakeHost) -> None:
    host = make_host()
    ana, guest = signed_in(host, "Ana"), host.browser()
    events = opened(ana, after="0")
    answer = elsewhere(lambda: guest.client.post("/chat/typing", json={"username": " Zoe "}))
    assert answer.status_code == 204
    (event,) = events.take(1, kinds=TYPING)
    assert event.data == {"name": "Zoe", "typing": True}
    bad = elsewhere(lambda: guest.client.post("/chat/typing", json={"username": "x" * 65}))
    assert (bad.status_code, list(bad.json["error"]["fields"])) == (422, ["username"])
    events.close()


def test_the_host_decides_who_sees_presence_and_whom_it_hides(make_host: MakeHost) -> None:
    host = make_host()

    @host.webchat.presence_permission
    def members_only(room: str, identity: Identity | None) -> bool:
        return identity is not None

    @host.webchat.presence_hidden
    def hide_moderators(room: str, identity: Identity | None) -> bool:
        return identity is not None and identity.name == "Mod"

    ana, mod, guest = signed_in(host, "Ana"), signed_in(host, "Mod"), host.browser()
    tabs = [opened(ana), opened(mod)]
    wait_until(lambda: here(ana)["users"] == ["Ana"], "Ana alone, Mod hidden")
    refused = elsewhere(lambda: guest.client.get("/chat/presence"))
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "forbidden")
    assert "presence" not in elsewhere(lambda: guest.poll(after="0", presence="true"))
    assert here(ana) == {"room": "lobby", "users": ["Ana"], "guests": 0}
    for tab in reversed(tabs):  # streams of one thread end in the order they nest
        tab.close()


def test_a_heartbeat_stays_within_what_postgresql_carries_and_counts_every_guest() -> None:
    crowd = {f"u{n}": Member(f"u{n}", "名" * 80) for n in range(100)}
    crowd |= {f"g{n}": Member(f"g{n}", None) for n in range(500)}
    rooms = {f"room-{n}": crowd for n in range(3)} | {"quiet": {}}
    messages = heartbeats.heartbeat("1.abc", rooms, limit=100)
    assert all(len(text.encode()) <= heartbeats.MAX_PAYLOAD for text in messages)
    said: dict[str, Any] = {}
    for text in messages:
        said |= json.loads(text)["r"]
    assert said["quiet"] == {"u": {}, "g": []}  # a room left is said to be empty
    for room in ("room-0", "room-1", "room-2"):
        entry = said[room]
        assert 0 < len(entry["u"]) <= 100  # fewer names listed, to fit
        assert len(entry["g"]) + entry["n"] == 500  # but every guest counted
