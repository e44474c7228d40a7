"""Concurrent writers and readers against a host, and a check that every reader got everything.

:func:`run_stress` is both the stress test (small numbers, in ``tests/``) and the stress
benchmark (``bench/stress.py``, large numbers). Every request goes through the host's HTTP
routes with the test client, one thread per writer or reader, so each has its own session,
its own app context and its own database connection.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from flask_webchat.models import ChatDeletion, ChatMessage, ChatReaction, ChatUpdate
from hosts import Browser, Host

#: How each kind of reader keeps its place: a tab's stream, the session alone, or its own cursor.
READER_KINDS = ("tab", "session", "cursor")


def run_together(
    writers: list[Callable[[], None]],
    readers: list[Callable[[threading.Event], None]],
    timeout: float = 120,
) -> None:
    """Run writers and readers in threads; readers get an event set once the writers are done.

    An error raised in any thread is re-raised here, and a thread still running after
    ``timeout`` seconds counts as a hang.
    """
    writers_done = threading.Event()
    failures: list[BaseException] = []

    def reporting(job: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                job()
            except BaseException as error:
                failures.append(error)

        return threading.Thread(target=run, daemon=True)

    writing = [reporting(job) for job in writers]
    reading = [reporting(lambda job=job: job(writers_done)) for job in readers]
    for thread in writing + reading:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in writing:
        thread.join(max(0.0, deadline - time.monotonic()))
    writers_done.set()
    for thread in reading:
        thread.join(max(0.0, deadline - time.monotonic()))
    if failures:
        raise failures[0]
    assert not any(thread.is_alive() for thread in writing + reading), "a request hung"


@dataclass
class ReaderLog:
    """What one reader received, in the order it received it."""

    kind: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    polls: int = 0
    #: How many updates arrived, all batches together.
    updates: int = 0
    #: The reader's view: every message it holds, in the state it last received, merged batch
    #: by batch as docs/http.rst tells clients to (messages, then updated, then deleted).
    state: dict[int, dict[str, Any]] = field(default_factory=dict)

    def merge(self, batch: dict[str, Any]) -> None:
        for message in batch["messages"]:
            self.state.setdefault(message["id"], message)
        for message in batch.get("updated", []):
            if message["id"] in self.state:
                self.state[message["id"]] = message
        for gone in batch["deleted"]:
            self.state.pop(gone, None)
        self.updates += len(batch.get("updated", []))


@dataclass
class StressReport:
    """The outcome of a stress run; every count of problems is zero when delivery is exact."""

    writers: int
    readers: int
    posted: int
    deleted: int
    seconds: float
    retried: int
    #: Per reader: surviving messages or deletions it never received.
    lost: list[int]
    #: Per reader: messages or deletions it received more than once.
    duplicates: list[int]
    #: Per reader: messages received out of cursor order.
    out_of_order: list[int]
    #: Per reader: messages received that nobody posted, or with other text than was posted.
    corrupt: list[int]
    edited: int = 0
    reacted: int = 0
    #: Per reader: messages whose final state (content, reactions) differs from the database's.
    stale: list[int] = field(default_factory=list)
    #: Per reader: updates received beyond the update events there were.
    extra_updates: list[int] = field(default_factory=list)

    @property
    def events(self) -> int:
        return self.posted + self.deleted + self.edited + self.reacted

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def exact(self) -> bool:
        problems = self.lost + self.duplicates + self.out_of_order + self.corrupt
        return not any(problems + self.stale + self.extra_updates)


def run_stress(
    host: Host,
    *,
    writers: int = 8,
    readers: int = 4,
    posts_per_writer: int = 200,
    delete_every: int = 4,
    seed: int = 0,
    timeout: float = 300,
    reader_pause: float = 0.0,
    edit_every: int = 0,
    react_every: int = 0,
) -> StressReport:
    """Post and delete from ``writers`` threads while ``readers`` threads poll; check the result.

    Each writer posts ``posts_per_writer`` messages and, after every ``delete_every``-th post,
    deletes one of its own earlier messages at random, as its anonymous author. Readers are
    spread over :data:`READER_KINDS`; each starts before the first post and keeps polling until
    the writers are done and it has caught up, pausing ``reader_pause`` seconds between polls
    (0: as fast as it can; the page waits 2 s). The host should have ``WEBCHAT_BACKLOG=0``.
    After every ``edit_every``-th post (0: never) a writer edits one of its surviving messages,
    and after every ``react_every``-th one it adds or removes a reaction on anyone's message;
    each reader's final view must then equal the database's state of every message.
    """
    posted: dict[int, str] = {}
    deleted: set[int] = set()
    changes = Counter[str]()
    retried = Counter[str]()
    lock = threading.Lock()
    logs = [ReaderLog(READER_KINDS[n % len(READER_KINDS)]) for n in range(readers)]
    start_reading = [_reader_start(host.browser(), log, reader_pause) for log in logs]

    def write(number: int) -> None:
        browser = host.browser()
        chooser = random.Random(seed * 1000 + number)
        mine: list[int] = []
        for n in range(posts_per_writer):
            content = f"writer {number} message {n} 你好 🎉"
            response = _retrying(lambda c=content: browser.post(c, f"w{number}"), retried)
            assert response.status_code == 201, response.json
            message_id = response.json["id"]
            mine.append(message_id)
            with lock:
                posted[message_id] = content
            if (n + 1) % delete_every == 0:
                victim = mine.pop(chooser.randrange(len(mine)))
                response = _retrying(lambda v=victim: browser.delete(v), retried)
                assert response.status_code == 204, response.json
                with lock:
                    deleted.add(victim)
            if edit_every and (n + 1) % edit_every == 0 and mine:
                target = chooser.choice(mine)
                text = f"writer {number} edit {n} ✏️"
                response = _retrying(lambda t=target, c=text: browser.edit(t, c), retried)
                assert response.status_code == 200, response.json
                with lock:
                    posted[target] = text
                    changes["edited"] += 1
            if react_every and (n + 1) % react_every == 0:
                with lock:
                    target = chooser.choice(sorted(posted))
                emoji = chooser.choice(_EMOJI)
                add = chooser.random() < 0.7
                response = _retrying(
                    lambda t=target, e=emoji, a=add: browser.react(t, e, add=a), retried
                )
                # Another writer may have deleted it meanwhile: then nothing changed.
                assert response.status_code in (200, 404), response.json
                if response.status_code == 200:
                    with lock:
                        changes["reacted"] += 1

    started = time.perf_counter()
    writers_finished: list[float] = []

    def write_and_clock(number: int) -> None:
        write(number)
        with lock:
            writers_finished.append(time.perf_counter())

    run_together(
        [lambda n=n: write_and_clock(n) for n in range(writers)], start_reading, timeout=timeout
    )
    seconds = max(writers_finished) - started
    report = _check(host, logs, posted, deleted, writers, seconds, sum(retried.values()))
    report.edited, report.reacted = changes["edited"], changes["reacted"]
    return report


_EMOJI = ("👍", "🎉", "👍🏽", "👨‍👩‍👧")


def _reader_start(
    browser: Browser, log: ReaderLog, pause: float
) -> Callable[[threading.Event], None]:
    """Set a reader up now (at the room's head) and return the loop its thread runs."""
    stream: str | None = None
    cursor: str | None = None
    if log.kind == "tab":
        stream = browser.open_page()
    elif log.kind == "session":
        # As ``curl -c jar …/chat/`` does: the page load gives the session its reader key, and
        # the first poll without a stream opens the session's default stream.
        browser.open_page()
        browser.poll()
    else:
        cursor = browser.poll(after="0")["cursor"]

    def poll_once() -> dict[str, Any]:
        nonlocal cursor
        if log.kind == "cursor":
            batch = browser.poll(after=cursor)
            cursor = batch["cursor"]
        else:
            batch = browser.poll(stream)
        log.polls += 1
        log.messages.extend(batch["messages"])
        log.deleted.extend(batch["deleted"])
        log.merge(batch)
        return batch

    def loop(writers_done: threading.Event) -> None:
        while not writers_done.is_set():
            poll_once()
            writers_done.wait(pause)
        while poll_once()["more"]:
            pass  # the writers are done: catch up to the head

    return loop


def _retrying(send: Callable[[], Any], retried: Counter[str]) -> Any:
    """Send again after a 503, as the page's client does; the request stored nothing."""
    for _ in range(20):
        response = send()
        if response.status_code != 503:
            return response
        retried["503"] += 1
        time.sleep(0.05)
    return response


def _check(
    host: Host,
    logs: list[ReaderLog],
    posted: dict[int, str],
    deleted: set[int],
    writers: int,
    seconds: float,
    retried: int,
) -> StressReport:
    with host.app.app_context():
        session = host.db.session
        surviving = set(session.scalars(sa.select(ChatMessage.id)))
        recorded_deletions = set(session.scalars(sa.select(ChatDeletion.message_id)))
        contents = dict(session.execute(sa.select(ChatMessage.id, ChatMessage.content)).all())
        update_events = session.scalar(sa.select(sa.func.count()).select_from(ChatUpdate)) or 0
        reactions: dict[int, dict[str, int]] = {}
        for message_id, emoji in session.execute(
            sa.select(ChatReaction.message_id, ChatReaction.emoji).order_by(ChatReaction.id)
        ):
            counts = reactions.setdefault(message_id, {})
            counts[emoji] = counts.get(emoji, 0) + 1
        session.remove()
    assert surviving == set(posted) - deleted, "the database holds what the writers left"
    assert recorded_deletions == deleted, "every deletion is recorded as an event"

    assert all(contents[m] == posted[m] for m in surviving), "the database holds the last edits"
    truth = {m: (contents[m], reactions.get(m, {})) for m in surviving}
    lost, duplicates, out_of_order, corrupt = [], [], [], []
    stale, extra_updates = [], []
    for log in logs:
        seen = {
            m["id"]: (m["content"], {r["emoji"]: r["count"] for r in m["reactions"]})
            for m in log.state.values()
        }
        differing = sorted(m for m in surviving if seen.get(m) != truth[m])
        stale.append(len(differing) + len(set(seen) - surviving))
        for m in differing:
            # Shown with a failure: what the reader holds, and what the database holds.
            print(f"stale ({log.kind} reader): {log.state.get(m)} / database: {truth[m]}")
        extra_updates.append(max(0, log.updates - update_events))
        received = [m["id"] for m in log.messages]
        cursors = [int(m["cursor"]) for m in log.messages]
        lost.append(len(surviving - set(received)) + len(deleted - set(log.deleted)))
        duplicates.append(
            sum(n - 1 for n in Counter(received).values())
            + sum(n - 1 for n in Counter(log.deleted).values())
        )
        out_of_order.append(sum(1 for a, b in itertools.pairwise(cursors) if b <= a))
        # A message arrives as it is when read: an edited one may already carry its edit.
        corrupt.append(
            sum(1 for m in log.messages if m["id"] not in posted) + len(set(log.deleted) - deleted)
        )
    return StressReport(
        writers=writers,
        readers=len(logs),
        posted=len(posted),
        deleted=len(deleted),
        seconds=seconds,
        retried=retried,
        lost=lost,
        duplicates=duplicates,
        out_of_order=out_of_order,
        corrupt=corrupt,
        stale=stale,
        extra_updates=extra_updates,
    )
