"""Waiting for news: long-polls and event streams sleep here, holding no database connection.

A waiting request reads from its cursor, and when there is nothing new it sleeps on its room's
:class:`~flask_webchat.notifiers.Signal` until a notifier wakes the room, then reads again. The
database decides what is delivered; the notifier only decides when to look. If a notification
is lost, one of the room's waiters in this process reads the room's head every
``WEBCHAT_FALLBACK_POLL`` seconds and wakes the others when it has moved: one cheap query per room
and process, however many readers wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from .notifiers import Notifier, Signal
from .streams import Batch, release_connection, room_head


def wait_for_batch(
    read: Callable[[], Batch],
    *,
    room: str,
    session: Session,
    notifier: Notifier,
    timeout: float,
    fallback: float,
) -> Batch:
    """Read a batch; if it is empty, wait up to ``timeout`` seconds for one that is not.

    ``read`` reads the reader's next batch in ``room`` (and moves its stream, if it has one).
    The answer is the first batch with events, or an empty batch once ``timeout`` has passed.
    A reader that waits reads the database once per wake-up, and not at all while it sleeps.
    """
    deadline = time.monotonic() + timeout
    while True:
        # The signal is taken before reading: a write that commits after the read sets it.
        signal = notifier.watch(room) if timeout > 0 else None
        batch = read()
        if not batch.empty or batch.more or signal is None or notifier.closed:
            return batch
        signal.saw(batch.cursor)
        release_connection(session)
        if not _sleep(signal, room, session, notifier, deadline=deadline, fallback=fallback):
            return batch


def _sleep(
    signal: Signal,
    room: str,
    session: Session,
    notifier: Notifier,
    *,
    deadline: float,
    fallback: float,
) -> bool:
    """Sleep until the room is woken (``True``) or the deadline passes (``False``)."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if signal.wait(min(remaining, fallback)):
            return True
        if notifier.due_for_check(signal, fallback):
            floor = signal.floor
            if floor is not None and room_head(session, room) > floor:
                notifier.wake(room)  # a notification went missing: wake everyone here
                return True
