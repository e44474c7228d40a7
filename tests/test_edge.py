"""The chat behind a real Pushpin: readers held by the edge get every event exactly once.

Each test starts the example app under gunicorn and a Pushpin of its own (its own config, ports
in 17000-17999 and run folder, see ``pushpin.py``) in front of it. Readers connect through
Pushpin; posts go through Pushpin or straight to an app process. Without Pushpin installed the
tests skip (``apt-get install pushpin``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import http.client
import select
import signal
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pushpin
import pytest

import processes
from browsing import WAIT_MS, message, open_chat, send
from servers import RemoteBrowser

KEY = "edge-test-key"
# The request by which a test knows Pushpin is ready: a long-poll it holds.
PROBE = "/chat/messages?wait=1"
# Generous bounds that catch a hang; speed is measured in bench/.
DELIVERED_WITHIN = 10.0


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start a Pushpin in front of ``count`` app processes sharing one SQLite database."""
    reason = pushpin.missing()
    if reason:
        pytest.skip(reason)
    with ExitStack() as stack:

        def start(count: int = 1, *, broken_publisher: int | None = None) -> Edge:
            ports = [processes.free_port() for _ in range(count)]
            proxy = pushpin.Pushpin(
                tmp_path / "pushpin", [f"http://127.0.0.1:{p}" for p in ports], KEY
            )
            stack.callback(proxy.stop)
            found = Edge(proxy, tmp_path / "instance", ports, broken_publisher, stack)
            for index in range(count):
                found.start_app(index)
            proxy.start()
            found.wait_ready()
            return found

        yield start


class Edge:
    """A Pushpin and the app processes behind it."""

    def __init__(
        self,
        proxy: pushpin.Pushpin,
        instance: Path,
        ports: list[int],
        broken: int | None,
        stack: ExitStack,
    ) -> None:
        self.proxy, self.instance, self.ports, self.broken = proxy, instance, ports, broken
        self.stack = stack
        self.url = proxy.url
        self.sites: dict[int, processes.Site] = {}

    def start_app(self, index: int) -> None:
        self.sites[index] = self.stack.enter_context(self.app(index))

    @contextmanager
    def app_stopped(self, index: int) -> Iterator[None]:
        """Stop app process ``index`` (as a crash or a deploy would), then start it again."""
        process = self.sites[index].process
        process.send_signal(signal.SIGINT)
        process.wait(30)
        yield
        self.start_app(index)

    def site(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    @contextmanager
    def app(self, index: int) -> Iterator[processes.Site]:
        """Run app process ``index``; the broken one publishes to a port where nothing listens."""
        publish = self.proxy.publish_url
        if index == self.broken:
            publish = f"http://127.0.0.1:{processes.free_port()}"
        env = {
            "FLASK_WEBCHAT_GRIP_URL": publish,
            "FLASK_WEBCHAT_GRIP_KEY": KEY,
            "FLASK_WEBCHAT_RATE_LIMIT": "null",
            "FLASK_WEBCHAT_HEARTBEAT": "1",
        }
        with processes.gunicorn(self.instance, env, port=self.ports[index]) as site:
            yield site
            assert [line for line in site.problems() if "Traceback" in line] == []

    def wait_ready(self) -> None:
        """Wait until Pushpin holds a request: its handler starts after its proxy, and a request
        that comes before answers 500 ("Accept service unavailable") or is never answered.

        Pushpin holds a request at least 5 s, whatever its wait, but its log shows the hold at
        once: the probe is dropped then, rather than sat out. A probe neither held nor answered
        is sent again, each time given twice as long.
        """
        deadline = time.monotonic() + pushpin.START_TIMEOUT
        patience = 1.0
        while True:
            held = _probes_held(self.proxy)
            probe = http.client.HTTPConnection("127.0.0.1", self.proxy.http_port, timeout=15)
            try:
                probe.request("GET", PROBE)
                given_up = min(time.monotonic() + patience, deadline)
                while time.monotonic() < given_up:
                    if _probes_held(self.proxy) > held:
                        return
                    answered, _, _ = select.select([probe.sock], [], [], 0.05)
                    if answered:  # not held: the handler is not ready yet
                        if probe.getresponse().status == 200:
                            return
                        break
            except (OSError, http.client.HTTPException):
                pass  # Pushpin not listening yet, or it dropped the request: try again
            finally:
                probe.close()
            assert time.monotonic() < deadline, "Pushpin never held a request"
            patience *= 2
            time.sleep(0.1)


class Reader:
    """An event-stream reader through the edge that reconnects like ``EventSource`` does.

    It keeps every event it receives, and counts its connections: a reader held by the edge
    connects once, whatever happens to the app behind it.
    """

    def __init__(self, browser: RemoteBrowser, url: str, **params: str) -> None:
        self.browser, self.url, self.params = browser, url, params
        self.events: list[tuple[str, str, Any]] = []
        self.connections = 0
        self.last_event_id: str | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                # Like a browser's watchdog: a stream silent for several heartbeats is dead.
                stream = self.browser.events(
                    self.url, last_event_id=self.last_event_id, timeout=5, **self.params
                )
            except (OSError, AssertionError):
                time.sleep(0.2)  # Pushpin restarting: try again, as the browser would
                continue
            self.connections += 1
            try:
                while not self.stopped.is_set():
                    event = stream.next()
                    if stream.last_event_id is not None:
                        self.last_event_id = stream.last_event_id
                    if event is None:
                        break
                    # Cursor events move the cursor and show nothing, as in the browser.
                    if event.type not in ("comment", "cursor"):
                        self.events.append((event.type, str(event.id), event.data))
            except OSError:
                pass
            finally:
                stream.close()

    def wait_for(self, count: int) -> list[tuple[str, str, Any]]:
        deadline = time.monotonic() + DELIVERED_WITHIN
        while len(self.events) < count:
            assert time.monotonic() < deadline, f"{len(self.events)} of {count}: {self.events}"
            time.sleep(0.05)
        return self.events

    def wait_for_id(self, event_id: str) -> list[tuple[str, str, Any]]:
        """Wait until the event at ``event_id`` has arrived; return every event so far."""
        deadline = time.monotonic() + DELIVERED_WITHIN
        while event_id not in self.ids():
            assert time.monotonic() < deadline, f"no {event_id}: {self.events}"
            time.sleep(0.05)
        return self.events

    def ids(self) -> list[str]:
        return [event_id for _, event_id, _ in self.events]

    def stop(self) -> None:
        self.stopped.set()


class Poller:
    """A long-polling reader from a bare cursor through the edge, as a script polls: it keeps
    every message it gets, and asks again from where it is after an answer or a failure."""

    WAIT = 9  # tells its polls apart in Pushpin's log

    def __init__(self, browser: RemoteBrowser, url: str) -> None:
        self.browser, self.url = browser, url
        self.contents: list[str] = []
        self.cursor = "0"
        self._stopped = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            query = f"after={self.cursor}&wait={self.WAIT}"
            try:
                status, body = self.browser.request("GET", f"{self.url}/chat/messages?{query}")
            except OSError:
                status, body = 0, None
            if status != 200:
                time.sleep(0.2)
                continue
            self.contents += [message["content"] for message in body["messages"]]
            self.cursor = body["cursor"]

    def held(self, proxy: pushpin.Pushpin) -> Poller:
        """Wait until Pushpin holds a poll of this reader at its cursor, then return it."""
        deadline = time.monotonic() + DELIVERED_WITHIN
        while _proxy_lines(proxy, f"?after={self.cursor}&wait={self.WAIT} ", "accept") == 0:
            assert time.monotonic() < deadline, "the long-poll was never held"
            time.sleep(0.05)
        return self

    def wait_for(self, count: int) -> list[str]:
        deadline = time.monotonic() + DELIVERED_WITHIN
        while len(self.contents) < count:
            assert time.monotonic() < deadline, f"{len(self.contents)} of {count} messages came"
            time.sleep(0.05)
        return self.contents

    def stop(self) -> None:
        self._stopped.set()


def _held(reader: Reader) -> Reader:
    """Wait until the edge holds the reader (its first answer came), then return it."""
    deadline = time.monotonic() + DELIVERED_WITHIN
    while reader.connections == 0 or reader.last_event_id is None:
        assert time.monotonic() < deadline, "the reader never connected"
        time.sleep(0.05)
    return reader


def _subscriptions(proxy: pushpin.Pushpin) -> list[str]:
    log = (proxy.folder / "log" / "out.log").read_text(errors="replace")
    return [line for line in log.splitlines() if "[handler] subscribe " in line]


def _grip_subscriptions(proxy: pushpin.Pushpin) -> int:
    """How many holds Pushpin took for the test's readers (not for the readiness probe)."""
    return sum(f"{PROBE} " not in line for line in _subscriptions(proxy))


def _probes_held(proxy: pushpin.Pushpin) -> int:
    return sum(f"{PROBE} " in line for line in _subscriptions(proxy))


def _proxy_lines(proxy: pushpin.Pushpin, url_part: str, outcome: str) -> int:
    """How many requests for a URL containing ``url_part`` Pushpin's proxy logged with
    ``outcome`` (``accept`` for a hold, ``code=200`` for an answer from the app)."""
    log = (proxy.folder / "log" / "out.log").read_text(errors="replace")
    return sum(
        1
        for line in log.splitlines()
        if "[proxy] GET " in line and url_part in line and outcome in line
    )


def test_events_through_the_edge_show_each_viewer_what_the_app_shows(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    ann, bob = RemoteBrowser(), RemoteBrowser()
    ann.say(chat.url, "before")
    bob_stream = bob.open_page(chat.url)
    bobs = _held(Reader(bob, chat.url, stream=bob_stream))
    anns = _held(Reader(ann, chat.url, after="1"))
    assert _grip_subscriptions(chat.proxy) >= 2  # held by Pushpin, not streamed by the app

    posted = ann.say(chat.url, "100% %(user)s <b>")
    seen_by_bob, seen_by_ann = bobs.wait_for(2)[1], anns.wait_for(1)[0]
    # Exactly what the app itself answers each of them for this message.
    for seen, browser in ((seen_by_bob, bob), (seen_by_ann, ann)):
        status, direct = browser.request("GET", f"{chat.site(0)}/chat/messages/{posted}")
        assert status == 200
        assert seen == ("message", "2", direct)
    assert seen_by_bob[2]["mine"] is False and seen_by_bob[2]["can_delete"] is False
    assert seen_by_ann[2]["mine"] is True and seen_by_ann[2]["can_delete"] is True
    assert seen_by_ann[2]["content"] == "100% %(user)s <b>"

    status, _ = ann.request("DELETE", f"{chat.url}/chat/messages/{posted}")
    assert status == 204
    assert bobs.wait_for(3)[2] == ("delete", "3", {"id": posted, "cursor": "3"})
    assert anns.wait_for(2)[1] == ("delete", "3", {"id": posted, "cursor": "3"})
    assert bobs.ids() == ["1", "2", "3"] and anns.ids() == ["2", "3"]
    assert bobs.connections == 1
    # An author's own stream resumes after each post, to read it in the author's view.
    assert anns.connections == 2
    bobs.stop(), anns.stop()


def test_a_long_poll_through_the_edge_answers_with_the_next_event(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    ann, bob = RemoteBrowser(), RemoteBrowser()
    stream = bob.open_page(chat.url)
    first = bob.poll(chat.url, stream=stream)
    answers: list[dict[str, Any]] = []
    poller = threading.Thread(
        target=lambda: answers.append(
            bob.poll(chat.url, stream=stream, after=first["cursor"], wait=20)
        )
    )
    poller.start()
    deadline = time.monotonic() + DELIVERED_WITHIN
    while _grip_subscriptions(chat.proxy) == 0:
        assert time.monotonic() < deadline, "the long-poll was never held"
        time.sleep(0.05)
    posted = ann.say(chat.url, "for the poll")
    poller.join(DELIVERED_WITHIN)
    [answer] = answers
    _, direct = bob.request("GET", f"{chat.site(0)}/chat/messages/{posted}")
    assert answer == {
        "messages": [direct],
        "deleted": [],
        "updated": [],
        "cursor": str(direct["cursor"]),
        "more": False,
        "stream": stream,
    }


def test_a_long_poll_from_a_cursor_is_answered_by_the_edge_in_each_viewers_view(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    ann, bob = RemoteBrowser(), RemoteBrowser()
    ann.say(chat.url, "before")
    cursor = bob.poll(chat.url, after="0")["cursor"]
    answers: dict[str, dict[str, Any]] = {}
    # Different waits tell the two polls apart in Pushpin's log.
    polls = {"ann": (ann, 21), "bob": (bob, 20)}

    def poll(name: str) -> None:
        browser, wait = polls[name]
        answers[name] = browser.poll(chat.url, after=cursor, wait=wait)

    pollers = [threading.Thread(target=poll, args=(name,)) for name in polls]
    for poller in pollers:
        poller.start()
    deadline = time.monotonic() + DELIVERED_WITHIN
    while _grip_subscriptions(chat.proxy) < 3:  # the shared channel twice, ann's own once
        assert time.monotonic() < deadline, "the long-polls were never held"
        time.sleep(0.05)
    posted = ann.say(chat.url, "for the edge")
    for poller in pollers:
        poller.join(DELIVERED_WITHIN)
    for name, (browser, _) in polls.items():
        _, direct = browser.request("GET", f"{chat.site(0)}/chat/messages/{posted}")
        assert answers[name] == {
            "messages": [direct],
            "deleted": [],
            "updated": [],
            "cursor": str(direct["cursor"]),
            "more": False,
            "stream": None,
        }
    assert answers["ann"]["messages"][0]["mine"] is True
    assert answers["bob"]["messages"][0]["mine"] is False
    # Pushpin answered Bob itself: the app only ever held his poll. Ann, the author, was
    # woken, and the app answered her in her own view.
    answered_by_app = {
        name: _proxy_lines(chat.proxy, f"?after={cursor}&wait={wait} ", "code=200")
        for name, (_, wait) in polls.items()
    }
    assert answered_by_app == {"ann": 1, "bob": 0}


def test_a_long_poll_asking_for_presence_through_the_edge_still_answers_it(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    bo = RemoteBrowser()
    status, _ = bo.request("POST", f"{chat.url}/sign-in/Bo")
    assert status == 200
    cursor = bo.poll(chat.url, after="0")["cursor"]
    # Nothing happens: Pushpin ends the wait with the answer the app gave it when it held it.
    answer = bo.poll(chat.url, after=cursor, wait=1, presence="true")
    assert answer["messages"] == [] and answer["cursor"] == cursor
    assert answer["presence"]["users"] == ["Bo"]
    assert _proxy_lines(chat.proxy, f"?after={cursor}&wait=1&presence=true ", "accept") >= 1


def test_moderators_through_the_edge_see_what_the_app_shows_them(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    people = {name: RemoteBrowser() for name in ("Ana", "Bo", "Chen")}  # Ana moderates
    for name, browser in people.items():
        status, _ = browser.request("POST", f"{chat.url}/sign-in/{name}")
        assert status == 200
    cursor = people["Chen"].poll(chat.url, after="0")["cursor"]
    streams = {name: _held(Reader(b, chat.url, after=cursor)) for name, b in people.items()}
    polls: dict[str, dict[str, Any]] = {}

    def poll(name: str) -> None:
        polls[name] = people[name].poll(chat.url, after=cursor, wait=20)

    pollers = [threading.Thread(target=poll, args=(name,)) for name in people]
    for poller in pollers:
        poller.start()
    deadline = time.monotonic() + DELIVERED_WITHIN
    while _proxy_lines(chat.proxy, f"?after={cursor}&wait=20 ", "accept") < len(people):
        assert time.monotonic() < deadline, "the long-polls were never held"
        time.sleep(0.05)
    status, posted = people["Bo"].request("POST", f"{chat.url}/chat/messages", {"content": "hi"})
    assert status == 201, posted
    for poller in pollers:
        poller.join(DELIVERED_WITHIN)
    seen = {}
    for name, browser in people.items():
        _, direct = browser.request("GET", f"{chat.site(0)}/chat/messages/{posted['id']}")
        assert streams[name].wait_for(1)[-1] == ("message", str(direct["cursor"]), direct)
        assert polls[name]["messages"] == [direct]
        seen[name] = (direct["mine"], direct["can_delete"])
        streams[name].stop()
    assert seen == {"Ana": (False, True), "Bo": (True, True), "Chen": (False, False)}


def test_a_reader_resumes_through_the_edge_with_last_event_id(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    ann, bob = RemoteBrowser(), RemoteBrowser()
    for text in ("one", "two"):
        ann.say(chat.url, text)
    first = bob.events(chat.url, after="0")
    assert [event.id for event in first.take(2)] == ["1", "2"]
    first.close()
    for text in ("three", "four"):
        ann.say(chat.url, text)
    again = bob.events(chat.url, last_event_id="2", after="0")
    assert [(e.id, e.data["content"]) for e in again.take(2)] == [("3", "three"), ("4", "four")]
    ann.say(chat.url, "five")
    assert [event.id for event in again.take(1)] == ["5"]
    again.close()


def test_two_app_processes_behind_one_edge_and_an_app_restart_drop_no_reader(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge(2)
    ann = RemoteBrowser()
    readers = [_held(Reader(RemoteBrowser(), chat.url, after="0")) for _ in range(3)]
    ann.say(chat.site(0), "to the first process")
    ann.say(chat.site(1), "to the second process")
    for reader in readers:
        reader.wait_for(2)
    # Restart the first process under the held readers; meanwhile the second one commits, and
    # its publish reaches them before the first process is back. (Two processes' publishes
    # racing each other is the lost-publish case below: the edge ends the streams it cannot
    # sequence, and they resume, so that they would count a second connection here.)
    with chat.app_stopped(0):
        ann.say(chat.site(1), "while the first is down")
        for reader in readers:
            reader.wait_for(3)
    ann.say(chat.site(0), "after the restart")
    for reader in readers:
        reader.wait_for(4)
        assert reader.ids() == ["1", "2", "3", "4"]
        assert reader.connections == 1  # the edge held them all along
        reader.stop()


def test_a_lost_publish_is_recovered_without_a_repeat(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge(2, broken_publisher=1)
    ann = RemoteBrowser()
    readers = [_held(Reader(RemoteBrowser(), chat.url, after="0")) for _ in range(2)]
    poller = Poller(RemoteBrowser(), chat.url).held(chat.proxy)
    ann.say(chat.site(1), "its publish is lost")  # committed; Pushpin never hears of it
    ann.say(chat.site(0), "its publish shows the gap")
    both = ["its publish is lost", "its publish shows the gap"]
    for reader in readers:
        reader.wait_for(2)
        time.sleep(0.5)  # anything repeated would arrive now
        assert reader.ids() == ["1", "2"]
        assert [data["content"] for _, _, data in reader.events] == both
        reader.stop()
    assert poller.wait_for(2) == both
    poller.stop()


def test_pushpin_restarted_under_readers_loses_and_repeats_nothing(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    ann = RemoteBrowser()
    readers = [_held(Reader(RemoteBrowser(), chat.url, after="0")) for _ in range(3)]
    poller = Poller(RemoteBrowser(), chat.url).held(chat.proxy)
    ann.say(chat.url, "before the restart")
    for reader in readers:
        reader.wait_for(1)
    poller.wait_for(1)
    chat.proxy.stop()
    ann.say(chat.site(0), "while Pushpin is down")  # the app publishes into the void
    chat.proxy.start()
    chat.wait_ready()
    ann.say(chat.url, "after the restart")
    for reader in readers:
        reader.wait_for(3)
        time.sleep(0.3)
        assert reader.ids() == ["1", "2", "3"]
        assert reader.connections >= 2  # the restart dropped them; they resumed by Last-Event-ID
        reader.stop()
    assert poller.wait_for(3) == [
        "before the restart",
        "while Pushpin is down",
        "after the restart",
    ]
    poller.stop()


@pytest.mark.browser
def test_the_page_works_in_chromium_through_the_edge(edge, chromium) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    errors: list[str] = []
    alice = open_chat(chromium, chat.url, "Alice", errors)
    bob = open_chat(chromium, chat.url, "Bob", errors)
    send(alice, "Hi Bob, through the edge")
    message(bob, "Hi Bob, through the edge").wait_for(timeout=WAIT_MS)
    send(bob, "Hello Alice")
    message(alice, "Hello Alice").wait_for(timeout=WAIT_MS)
    # Bob's own copy arrives by his stream, which may trail Alice's: wait for it, then count.
    own = message(bob, "Hello Alice")
    delete = own.get_by_role("button", name="Delete message from Bob")
    delete.wait_for(timeout=WAIT_MS)
    theirs = bob.locator(".webchat-message", has_text="Hi Bob")
    assert theirs.get_by_role("button", name="Delete message from Alice").count() == 0
    delete.click()
    message(alice, "Hello Alice").wait_for(state="detached", timeout=WAIT_MS)
    assert _grip_subscriptions(chat.proxy) >= 2
    assert errors == []


def test_updates_through_the_edge_show_each_viewer_its_own_reactions(edge) -> None:  # type: ignore[no-untyped-def]
    chat = edge()
    ann, bob = RemoteBrowser(), RemoteBrowser()
    posted = ann.say(chat.url, "lunch?")
    # A page's stream gives bob's browser its reader key, by which the edge knows his view.
    bobs = _held(Reader(bob, chat.url, stream=bob.open_page(chat.url)))
    anns = _held(Reader(ann, chat.url, after="1"))
    emoji = urllib.parse.quote("👍")
    status, _ = bob.request("PUT", f"{chat.url}/chat/messages/{posted}/reactions/{emoji}")
    assert status == 200
    status, _ = ann.request("PATCH", f"{chat.url}/chat/messages/{posted}", {"content": "lunch!"})
    assert status == 200
    for reader, browser in ((bobs, bob), (anns, ann)):
        reader.wait_for_id("3")
        # A reader the edge caught up from the app after both changes gets the message's
        # latest state once, at 3: a batch carries each changed message once.
        updates = [event_id for kind, event_id, _ in reader.events if kind == "update"]
        assert updates in (["2", "3"], ["3"])
        status, direct = browser.request("GET", f"{chat.site(0)}/chat/messages/{posted}")
        assert reader.events[-1][2] == direct  # the viewer's own view, not the shared one
    assert bobs.events[-1][2]["reactions"] == [{"emoji": "👍", "count": 1, "mine": True}]
    assert anns.events[-1][2]["reactions"] == [{"emoji": "👍", "count": 1, "mine": False}]
    assert anns.events[-1][2]["content"] == "lunch!"
    bobs.stop(), anns.stop()
