"""Waiting for news: long-polls and event streams sleep here, holding no database connection.

A waiting request reads from its cursor, and when there is nothing new it sleeps on its room's
:class:`~flask_webchat.notifiers.Wakeup` until a notifier wakes the room, then reads again. The
database decides what is delivered; the notifier only decides when to look. If a notification
is lost, one of the room's waiters in this process reads the room's head every
``WEBCHAT_FALLBACK_POLL`` seconds and wakes the others when it has moved: one cheap query per room
and process, however many readers wait.

A reader that asks again what it asked a moment ago (a poll every few seconds), and found the room
quiet then, gets the same empty answer without a read while the process has heard of no write to
the room since, for at most ``WEBCHAT_FALLBACK_POLL`` seconds: nothing moved its cursor, so what
it has not been told yet it is told by a later read (see ``docs/design.rst``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import rooms
from .batches import Batch
from .notifiers import Notifier, Wakeup
from .streams import Reader
from .transactions import release_connection


def wait_for_batch(
    reader: Reader,
    after: int | None,
    *,
    notifier: Notifier,
    timeout: float,
    fallback: float,
    pending: Callable[[], bool] | None = None,
) -> Batch:
    """Read a batch; if it is empty, wait up to ``timeout`` seconds for one that is not.

    The answer is the first batch with events, or an empty batch once ``timeout`` has passed.
    A reader that waits reads with its wake-up's ``known`` position, so that readers woken
    together can share one read; it does not read while it sleeps. ``pending()`` true (the
    room's presence changed) also ends the wait, with an empty batch.
    """
    waiter = Waiter(reader, notifier=notifier, fallback=fallback, pending=pending)
    return waiter.next_batch(after, timeout)


class Waiter:
    """One reader waiting for batch after batch: a long-poll, or an event stream's whole life.

    Between two waits that both time out (an event stream's heartbeats) or were only nudged,
    nothing was announced if the room's wake-up is still of the generation the reader slept on:
    the reader then sleeps again without reading, so an idle reader costs no query, only the
    room's fallback check does.
    """

    def __init__(
        self,
        reader: Reader,
        *,
        notifier: Notifier,
        fallback: float,
        pending: Callable[[], bool] | None = None,
    ) -> None:
        self.reader, self.notifier, self.fallback = reader, notifier, fallback
        #: Whether ephemeral events (presence, typing) wait for an event stream to write them:
        #: then the wait ends with an empty batch. Asked after taking the wake-up that a
        #: :meth:`~flask_webchat.notifiers.Notifier.nudge` following them sets.
        self.pending = pending
        #: The generation of the wake-up last slept on, and the reader's cursor then.
        self._slept: tuple[tuple[int, int], int] | None = None

    def next_batch(self, after: int | None, timeout: float) -> Batch:
        """The reader's next batch from ``after``, waiting up to ``timeout`` seconds for one."""
        reader, notifier = self.reader, self.notifier
        deadline = time.monotonic() + timeout
        asked = self._key(after)
        while True:
            # A read inside a transaction the host began (its user loader, say) would see the
            # database as it was then, on MySQL and MariaDB: a write announced since would be
            # missed, and its empty answer kept as quiet. End it before taking the wake-up.
            release_connection(reader.session)
            # The wake-up is taken before reading: a write that commits after the read sets it.
            wakeup = notifier.watch(reader.room)
            quiet = notifier.quiet_answer(reader.room, asked, wakeup.generation, self.fallback)
            if quiet is not None:
                if timeout <= 0:
                    return quiet  # nothing announced since this reader found the room quiet
                batch = quiet
                wakeup.saw(batch.cursor)
            elif after is None or self._slept != (wakeup.generation, after):
                batch = reader.read(after, wakeup.known if timeout > 0 else None)
                if not batch.empty or batch.more or notifier.closed:
                    self._slept = None
                    return batch
                notifier.remember_quiet(reader.room, asked, wakeup.generation, batch)
                if timeout <= 0:
                    return batch
                wakeup.saw(batch.cursor)
                release_connection(reader.session)  # a stream's read may have begun one
                self._slept = (wakeup.generation, batch.cursor)
            else:
                batch = Batch.at(after)  # nothing announced since this reader last read
            if self.pending is not None and self.pending():
                return batch
            if not _sleep(wakeup, reader, notifier, deadline=deadline, fallback=self.fallback):
                return batch

    def _key(self, after: int | None) -> tuple[object, ...] | None:
        """Who asks, from where: the same question of the same reader gets the same answer.

        ``None`` for the session's default stream, which loading the page moves back: its
        answer is never kept. A tab's stream moves only by being read. A bare cursor's answer
        is the room's alone, so every reader at that cursor shares it (the edge's readers, who
        all ask again from the same cursor after each publish).
        """
        reader = self.reader
        if reader.token is None:
            return None if after is None else (None, None, after, reader.limit)
        return (reader.owner, reader.token, after, reader.limit)


def _sleep(
    wakeup: Wakeup, reader: Reader, notifier: Notifier, *, deadline: float, fallback: float
) -> bool:
    """Sleep until the room is woken (``True``) or the deadline passes (``False``).

    The room's check is due by the wake-up's age, not the request's: with notifications lost, a
    room's wake-up lives on across short waits (a heartbeat, a brief long-poll), so the check
    still comes once per ``fallback`` seconds.
    """
    while True:
        remaining = deadline - time.monotonic()
        if wakeup.wait(max(0.0, min(remaining, fallback))):
            return True
        if notifier.due_for_check(wakeup, fallback) and wakeup.floor is not None:
            head = rooms.head(reader.session, reader.room)
            if head > wakeup.floor:
                notifier.wake(reader.room, head)  # a notification went missing: wake everyone
                return True
        if time.monotonic() >= deadline:
            return False
