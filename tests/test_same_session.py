"""Overlapping requests of one browser session lose and repeat nothing, on every session backend.

Session backends save the whole session at the end of each request, so a request that loaded it
before another one changed it writes the old values back (Flask-Session's lost-update race). Here
one browser keeps several requests in flight at once, sharing one cookie jar the way a real
browser does: whichever response arrives last sets the cookie.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import request, session
from werkzeug.test import TestResponse

from flask_webchat.models import ChatDeletion
from hosts import Browser, Host, MakeHost
from workload import run_together

ROUNDS = 25


class SharedJar:
    """One browser's session cookie, shared by requests in flight at the same time."""

    def __init__(self, host: Host, browser: Browser) -> None:
        self.host = host
        self.lock = threading.Lock()
        cookie = browser.client.get_cookie("session")
        self.value = cookie.value if cookie else None

    def send(self, request: Callable[[Browser], TestResponse]) -> TestResponse:
        """Send with the jar's current cookie; store the answer's cookie if it sets one."""
        client = self.host.app.test_client()
        with self.lock:
            if self.value is not None:
                client.set_cookie("session", self.value)
        response = request(Browser(client))
        if any(h.startswith("session=") for h in response.headers.getlist("Set-Cookie")):
            cookie = client.get_cookie("session")
            with self.lock:
                self.value = cookie.value if cookie else None
        return response


def add_session_writing_route(host: Host) -> None:
    # A host page that changes its own session data on every visit, so every backend saves the
    # session, cookie or server side, while the chat's requests are in flight.
    @host.app.get("/visit")
    def visit() -> str:
        session["visits"] = session.get("visits", 0) + 1
        return "ok"


def test_a_poll_a_post_deletes_and_another_tabs_poll_in_flight_at_once(
    make_host: MakeHost,
) -> None:
    host = make_host(WEBCHAT_BACKLOG=0)
    add_session_writing_route(host)
    me = host.browser()
    tabs = [me.open_page(), me.open_page()]
    me.poll()  # the session's default stream, for a reader that names no stream
    jar = SharedJar(host, me)
    received: dict[str | None, list[dict]] = {tab: [] for tab in [*tabs, None]}
    deleted: dict[str | None, list[int]] = {tab: [] for tab in [*tabs, None]}
    posted: list[int] = []
    delete_answers: list[int] = []
    lock = threading.Lock()

    def poll(tab: str | None) -> Callable[[], None]:
        def run() -> None:
            response = jar.send(lambda b: b.poll_response(tab))
            assert response.status_code == 200, response.json
            with lock:
                received[tab].extend(response.json["messages"])
                deleted[tab].extend(response.json["deleted"])

        return run

    def post(n: int) -> Callable[[], None]:
        def run() -> None:
            response = jar.send(lambda b: b.post(f"round {n}", "me"))
            assert response.status_code == 201, response.json
            with lock:
                posted.append(response.json["id"])

        return run

    def delete(message_id: int) -> Callable[[], None]:
        def run() -> None:
            status = jar.send(lambda b: b.delete(message_id)).status_code
            with lock:
                delete_answers.append(status)

        return run

    jar.send(lambda b: b.post("before the first round", "me"))
    for n in range(ROUNDS):
        with lock:
            victim = posted.pop(0) if posted else None
        jobs = [poll(tabs[0]), poll(tabs[1]), poll(None), post(n)]
        jobs.append(lambda: jar.send(lambda b: b.client.get("/visit")))
        if victim is not None:
            jobs += [delete(victim), delete(victim)]  # a double click: two deletes racing
        run_together(jobs, [])
    for tab in received:  # catch up
        poll(tab)()

    survivors = {m.id for m in host.stored_messages()}
    with host.app.app_context():
        deletions = Counter(host.db.session.scalars(sa.select(ChatDeletion.message_id)))
        host.db.session.remove()
    assert len(deletions) == ROUNDS - 1 and set(deletions.values()) == {1}
    # The author's right to delete survived every overlapping save: one 204, then one 404.
    assert sorted(delete_answers) == [204] * (ROUNDS - 1) + [404] * (ROUNDS - 1)
    for tab in received:
        cursors = [int(m["cursor"]) for m in received[tab]]
        assert cursors == sorted(set(cursors)), f"{tab}: out of order or repeated"
        ids = [m["id"] for m in received[tab]]
        assert survivors <= set(ids), f"{tab}: lost a message"
        assert set(ids) <= survivors | set(deletions), f"{tab}: a message nobody posted"
        assert sorted(deleted[tab]) == sorted(deletions), f"{tab}: lost or repeated a deletion"


def test_overlapping_polls_of_one_stream_deliver_each_message_once(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_BACKLOG=0)
    owner = host.browser()
    tab = owner.open_page()
    jar = SharedJar(host, owner)
    received: list[int] = []
    posted: list[int] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        writer = host.browser()
        for i in range(40):
            message = writer.say(f"writer {n} message {i}")
            with lock:
                posted.append(message)

    def poll_until_writers_stop(writers_done: threading.Event) -> None:
        while True:
            last_round = writers_done.is_set()
            response = jar.send(lambda b: b.poll_response(tab))
            assert response.status_code == 200, response.json
            with lock:
                received.extend(m["id"] for m in response.json["messages"])
            if last_round:
                return

    run_together([lambda n=n: write(n) for n in range(3)], [poll_until_writers_stop] * 4)

    assert len(posted) == 120
    assert [i for i, n in Counter(received).items() if n > 1] == []
    assert sorted(received) == sorted(posted)


def a_browser_with_a_host_session(host: Host) -> SharedJar:
    """A browser whose session holds something of the host's (a CSRF token, a visit count), so
    that every request saves it, and no reader key yet."""
    add_session_writing_route(host)
    me = host.browser()
    assert me.client.get("/visit").status_code == 200
    return SharedJar(host, me)


def test_a_request_that_began_before_a_browsers_first_post_leaves_it_its_authorship(
    make_host: MakeHost,
) -> None:
    host = make_host()
    jar = a_browser_with_a_host_session(host)
    waited: list[int] = []

    def wait_in_a_quiet_room() -> None:
        # A long-poll: it loads the session now and saves it when its wait ends.
        answer = jar.send(lambda b: b.client.get("/chat/rooms/quiet/messages?after=0&wait=1"))
        waited.append(answer.status_code)

    quiet = threading.Thread(target=wait_in_a_quiet_room)
    quiet.start()
    time.sleep(0.2)
    posted = jar.send(lambda b: b.post("my first words", "me"))  # makes the reader key
    assert posted.status_code == 201, posted.json
    quiet.join()
    assert waited == [200]

    mine = jar.send(lambda b: b.poll_response())
    assert [m["mine"] for m in mine.json["messages"]] == [True]
    assert jar.send(lambda b: b.delete(posted.json["id"])).status_code == 204


def test_a_read_saving_just_as_a_first_post_saves_leaves_it_its_authorship(
    make_host: MakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store that refreshes each request (Flask-Session's default) saves the session at the end
    # of every request. Here the browser's first post saves between a read's look at the store
    # and its own save.
    host = make_host()
    jar = a_browser_with_a_host_session(host)
    store = host.app.session_interface.host  # the host's own, behind the chat's guard
    save = store.save_session
    posted: list[TestResponse] = []

    def post_first() -> None:
        thread = threading.Thread(target=lambda: posted.append(jar.send(lambda b: b.post("hi"))))
        thread.start()
        thread.join()

    def save_after_a_post(app: Any, saved: Any, response: Any) -> None:
        if request.method == "GET" and not posted:
            post_first()
        save(app, saved, response)

    monkeypatch.setattr(store, "save_session", save_after_a_post)
    assert jar.send(lambda b: b.poll_response(after="0")).status_code == 200
    if not posted:
        post_first()  # the read saved nothing: the post comes after it
    assert posted[0].status_code == 201, posted[0].json

    mine = jar.send(lambda b: b.poll_response(after="0"))
    assert [m["mine"] for m in mine.json["messages"]] == [True]
