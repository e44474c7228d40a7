"""Overlapping requests of one browser session never lose or repeat a message."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from hosts import Browser, MakeHost


def run_together(
    writers: list[Callable[[], None]],
    readers: list[Callable[[threading.Event], None]],
    timeout: float = 60,
) -> None:
    """Run writers and readers in threads; readers get an event set once the writers are done.

    An error raised in any thread fails the test, and a thread still running after ``timeout``
    seconds counts as a hang.
    """
    writers_done = threading.Event()
    failures: list[BaseException] = []

    def reporting(job: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                job()
            except BaseException as error:
                failures.append(error)

        return threading.Thread(target=run)

    writing = [reporting(job) for job in writers]
    reading = [reporting(lambda job=job: job(writers_done)) for job in readers]
    for thread in writing + reading:
        thread.start()
    for thread in writing:
        thread.join(timeout)
    writers_done.set()
    for thread in reading:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in writing + reading), "a request hung"
    assert failures == []


def test_overlapping_polls_of_one_stream_deliver_each_message_once(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_BACKLOG=0)
    owner = host.browser()
    tab = owner.open_page()
    cookie = owner.client.get_cookie("session")
    assert cookie is not None
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
        # Another client holding the same session cookie, polling the same tab's stream.
        client = host.app.test_client()
        client.set_cookie("session", cookie.value)
        poller = Browser(client)
        while True:
            last_round = writers_done.is_set()
            batch = poller.poll(tab)
            with lock:
                received.extend(m["id"] for m in batch["messages"])
            if last_round:
                return

    run_together([lambda n=n: write(n) for n in range(3)], [poll_until_writers_stop] * 4)

    assert len(posted) == 120
    assert [i for i, n in Counter(received).items() if n > 1] == []
    assert sorted(received) == sorted(posted)
