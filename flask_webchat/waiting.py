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

from .batches import Batch
from .notifiers import Notifier, Signal
from .streams import release_connection, room_head


def wait_for_batch(
    read: Callable[[int | None], Batch],
    *,
    room: str,
    session: Session,
    notifier: Notifier,
    timeout: float,
    fallback: float,
) -> Batch:
    """Read a batch; if it is empty, wait up to ``timeout`` seconds for one that is not.

    ``read(known)`` reads the reader's next batch in ``room`` (and moves its stream, if it has
    one); a reader that waits passes its signal's ``known`` position, so that readers woken
    together can share one read. The answer is the first batch with events, or an empty batch
    once ``timeout`` has passed. A waiting reader does not read while it sleeps.
    """
    deadline = time.monotonic() + timeout
    while True:
        if timeout > 0:
            # A read inside a transaction the host began (its user loader, say) would see the
            # database as it was then, on MySQL and MariaDB: end it before taking the signal.
            release_connection(session)
        # The signal is taken before reading: a write that commits after the read sets it.
        signal = notifier.watch(room) if timeout > 0 else None
        batch = read(signal.known if signal is not None else None)
        if not batch.empty or batch.more or signal is None or notifier.closed:
            return batch
        signal.saw(batch.cursor)
        release_connection(session)  # a stream's read may have begun one
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
    """Sleep until the room is woken (``True``) or the deadline passes (``False``).

    The room's check is due by the signal's age, not the request's: with notifications lost, a
    room's signal lives on across short waits (a heartbeat, a brief long-poll), so the check
    still comes once per ``fallback`` seconds.
    """
    while True:
        remaining = deadline - time.monotonic()
        if signal.wait(max(0.0, min(remaining, fallback))):
            return True
        if notifier.due_for_check(signal, fallback) and signal.floor is not None:
            head = room_head(session, room)
            if head > signal.floor:
                notifier.wake(room, head)  # a notification went missing: wake everyone here
                return True
        if time.monotonic() >= deadline:
            return False
