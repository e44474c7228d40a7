"""Overlapping requests of one browser session never lose or repeat a message."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from conftest import Browser, build_host


def test_overlapping_polls_of_one_stream_deliver_each_message_once(tmp_path: Path) -> None:
    host = build_host(tmp_path, "cachelib", WEBCHAT_BACKLOG=0)
    owner = host.browser()
    tab = owner.open_page()
    cookie = owner.client.get_cookie("session")
    assert cookie is not None

    # Four clients holding the same session cookie poll the same tab's stream at once.
    pollers = []
    for _ in range(4):
        client = host.app.test_client()
        client.set_cookie("session", cookie.value)
        pollers.append(Browser(client))
    writing = threading.Event()
    writing.set()
    received: list[int] = []
    lock = threading.Lock()

    def poll_until_writers_stop(poller: Browser) -> None:
        while True:
            last_round = not writing.is_set()
            batch = poller.poll(tab)
            with lock:
                received.extend(m["id"] for m in batch["messages"])
            if last_round:
                return

    def write(n: int) -> list[int]:
        writer = host.browser()
        return [writer.say(f"writer {n} message {i}") for i in range(40)]

    posted: list[list[int]] = [[] for _ in range(3)]
    threads = [threading.Thread(target=poll_until_writers_stop, args=(p,)) for p in pollers]
    writers = [threading.Thread(target=lambda n=n: posted[n].extend(write(n))) for n in range(3)]
    for thread in threads + writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=60)
    writing.clear()
    for thread in threads:
        thread.join(timeout=60)

    everything = [i for ids in posted for i in ids]
    assert len(everything) == 120
    duplicates = [i for i, n in Counter(received).items() if n > 1]
    assert duplicates == []
    assert sorted(received) == sorted(everything)
