"""The base class of the notifiers: how a request waiting for news learns that there is some.

A notifier never carries messages. It only wakes the requests of this process that wait on a
room; they then read from their own cursor in the database, which stays the only source of truth.
A notification that is lost (a backend restarting, a dropped connection) can therefore only delay
delivery, never lose or repeat an event, and :mod:`flask_webchat.waiting` bounds that delay with
a periodic check of the room's head.

A backend subclasses :class:`Notifier` and implements how a write is announced to every process
(:meth:`Notifier.before_commit` or :meth:`Notifier.after_commit`) and, if the announcement comes
back through a connection of its own, a listener that calls :meth:`Notifier.wake`.

A notifier also carries the chat's *ephemeral* messages, presence heartbeats and typing
(:mod:`flask_webchat.presence`), which are not in the database: a backend sends them to every
process with :meth:`Notifier.publish_ephemeral` and hands those that arrive to
:meth:`Notifier.deliver_ephemeral`. The base class delivers them within this process only, as
it does its wake-ups.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .edge import EdgePublisher

logger = logging.getLogger("flask_webchat.notifiers")
# Readers whose empty answer a process keeps; beyond it, it forgets them and they read again.
_QUIET_LIMIT = 10_000


class Wakeup:
    """What the requests waiting on one room wait for: the room's next notification.

    (Not a Flask or blinker *signal*: nothing is sent to receivers; waiting requests wake up.)

    A room hands out the same wake-up until it is woken; the next waiter then gets a new one. So a
    waiter that takes its wake-up *before* reading the database cannot miss a notification that
    arrives between its read and its wait.
    """

    __slots__ = ("_event", "checked_at", "floor", "generation", "known")

    def __init__(self, known: int | None = None, generation: tuple[int, int] = (0, 0)) -> None:
        # Looked up at call time, so that gevent's monkey-patching makes it cooperative.
        self._event = threading.Event()
        #: The room's highest position announced to this process when the wake-up was handed
        #: out. A read that reaches at least this far has seen every event a waiter on this
        #: wake-up could have missed; later ones will set it. ``None`` when the
        #: process cannot know (no announcement since it started listening): read afresh.
        self.known = known
        #: The lowest room head that a request waiting on this wake-up has seen.
        self.floor: int | None = None
        #: When this wake-up's room head was last checked against the database.
        self.checked_at = time.monotonic()
        #: How many times the room had been woken when this wake-up was handed out: a waiter
        #: that finds the same generation after sleeping knows nothing was announced.
        self.generation = generation

    def saw(self, head: int) -> None:
        """Record that a waiter read the room up to ``head`` before waiting."""
        self.floor = head if self.floor is None else min(self.floor, head)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; ``True`` if the room was woken."""
        # Never wait on a wake-up already set: gevent's Event parks a greenlet that does so
        # while the set is still being delivered, with no timeout; under a storm of joins,
        # thousands of streams were parked there and never woken again.
        return self._event.is_set() or self._event.wait(timeout)

    def set(self) -> None:
        self._event.set()


class Notifier:
    """Wakes the requests of this process that wait for a room's next event.

    Subclasses announce writes to every process; this class keeps the waiting requests and wakes
    them. Instances are safe to share between threads and gevent greenlets.
    """

    #: Publishes each committed event to a Pushpin edge, when ``WEBCHAT_GRIP_URL`` is set.
    edge: EdgePublisher | None = None
    #: Called with each ephemeral message (presence, typing) published by any process.
    on_ephemeral: Callable[[str], None] | None = None

    def __init__(self) -> None:
        self._wakeups: dict[str, Wakeup] = {}
        self._known: dict[str, int] = {}
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._lock = threading.Lock()
        self._started_in: int | None = None
        self._closed = threading.Event()
        #: Empty answers of readers that found their room quiet: who asked, and what and when.
        self._quiet: dict[str, dict[tuple[object, ...], tuple[tuple[int, int], Any, float]]] = {}

    def watch(self, room: str) -> Wakeup:
        """The wake-up that the room's next notification will set.

        Take it before reading the database, then wait on it if the read found nothing.
        """
        self.listen_here()
        with self._lock:
            wakeup = self._wakeups.get(room)
            if wakeup is None:
                wakeup = self._wakeups[room] = Wakeup(self._known.get(room), self._generation(room))
            return wakeup

    def remember_quiet(
        self, room: str, asked: tuple[object, ...] | None, generation: tuple[int, int], answer: Any
    ) -> None:
        """Keep the empty ``answer`` a reader of ``room`` read at the wake-up ``generation``."""
        if asked is None:
            return
        kept = self._quiet.setdefault(room, {})
        if len(kept) >= _QUIET_LIMIT:
            kept.clear()  # a burst of one-off readers: forget them all, cheaply
        kept[asked] = (generation, answer, time.monotonic())

    def quiet_answer(
        self,
        room: str,
        asked: tuple[object, ...] | None,
        generation: tuple[int, int],
        within: float,
    ) -> Any:
        """The answer kept for the same question, if the room has not been woken since and it
        was read less than ``within`` seconds ago (the fallback check's period); else ``None``."""
        if asked is None:
            return None
        kept = self._quiet.get(room, {}).get(asked)
        if kept is None or kept[0] != generation or self.closed:
            return None
        if time.monotonic() - kept[2] >= within:
            self._quiet.get(room, {}).pop(asked, None)
            return None
        return kept[1]

    def forget_quiet(self, room: str) -> None:
        """A write to ``room`` committed in this process: its readers read again."""
        self._quiet.pop(room, None)

    def listen_here(self) -> None:
        """Start listening in this process, if it does not yet (called on first use)."""
        if self._started_in != os.getpid():
            # Listeners run in the process that serves requests: a thread started before a
            # server forks its workers does not survive the fork.
            with self._lock:
                if self._started_in != os.getpid():
                    self._started_in = os.getpid()
                    self._wakeups.clear()
                    self._known.clear()
                    self._quiet.clear()
                    self._epoch += 1
                    self.start()

    def _generation(self, room: str) -> tuple[int, int]:
        return (self._epoch, self._generations.get(room, 0))

    def wake(self, room: str, position: int | None = None) -> None:
        """Wake every request of this process waiting on ``room``, announced at ``position``."""
        with self._lock:
            if position is not None and position > self._known.get(room, 0):
                self._known[room] = position
            self._generations[room] = self._generations.get(room, 0) + 1
            wakeup = self._wakeups.pop(room, None)
        if wakeup is not None:
            wakeup.set()

    def nudge(self, room: str) -> None:
        """Wake the event streams of ``room`` for an ephemeral event, announcing no write.

        The room's next wake-up keeps the generation, floor and check time of this one, so that
        its waiters neither read the database for it nor delay the room's fallback check.
        """
        with self._lock:
            wakeup = self._wakeups.get(room)
            if wakeup is None:
                return
            following = Wakeup(wakeup.known, wakeup.generation)
            following.floor, following.checked_at = wakeup.floor, wakeup.checked_at
            self._wakeups[room] = following
        wakeup.set()

    def publish_ephemeral(self, payload: str) -> None:
        """Send an ephemeral message (presence, typing) to every process, this one included.

        The base class has one process to tell: this one. Must not raise.
        """
        self.deliver_ephemeral(payload)

    def deliver_ephemeral(self, payload: str) -> None:
        """Hand an ephemeral message that arrived to whoever listens in this process."""
        receiver = self.on_ephemeral
        if receiver is not None:
            try:
                receiver(payload)
            except Exception:  # a bad message must not stop a listener
                logger.exception("webchat: an ephemeral message failed")

    def wake_all(self) -> None:
        """Wake every waiting request: after a listener reconnects, notifications may be lost.

        What this process knew of each room's head is forgotten too: until the next
        announcement, every waiter reads the database itself.
        """
        with self._lock:
            wakeups, self._wakeups = self._wakeups, {}
            self._known.clear()
            self._epoch += 1
        for wakeup in wakeups.values():
            wakeup.set()

    def due_for_check(self, wakeup: Wakeup, period: float) -> bool:
        """Whether this waiter should check the room's head now: one waiter per period does."""
        now = time.monotonic()
        with self._lock:
            if now - wakeup.checked_at < period:
                return False
            wakeup.checked_at = now
            return True

    def before_commit(self, session: Session, room: str, position: int) -> None:
        """Called inside the transaction of a post or delete, just before it commits.

        For backends whose announcement is transactional (PostgreSQL's ``NOTIFY``).
        """

    def after_commit(self, room: str, position: int) -> None:
        """Called once a post or delete at ``position`` in ``room`` has committed.

        Must not raise: the write has succeeded whatever happens to its announcement.
        """

    def start(self) -> None:
        """Start listening, in the process that serves requests (called on first use)."""

    def close(self) -> None:
        """Stop listening and wake every waiter; the notifier is not used again."""
        self._closed.set()
        self.wake_all()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed.is_set()


class ListeningNotifier(Notifier):
    """A notifier whose announcements come back through a connection kept by a listener thread.

    :meth:`listen` runs in that thread until the connection fails; it is then started again
    after a pause, and every waiter is woken, since announcements may have been missed meanwhile.
    """

    #: Longest pause between two attempts to reconnect, in seconds.
    max_pause = 5.0

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name=f"webchat-{type(self).__name__}")
        thread.daemon = True
        thread.start()

    def listen(self) -> None:
        """Connect, call :meth:`wake_all` once subscribed, then :meth:`wake` per announcement.

        Return when :attr:`closed` becomes true; raise when the connection fails.
        """
        raise NotImplementedError

    def _run(self) -> None:
        pause = 0.1
        while not self.closed:
            started = time.monotonic()
            try:
                self.listen()
            except Exception as error:
                if self.closed:
                    return
                if time.monotonic() - started > self.max_pause:
                    pause = 0.1  # it had been working: try again soon
                logger.warning("webchat: %s lost its connection: %s", type(self).__name__, error)
                self.wake_all()
                self._closed.wait(pause)
                pause = min(pause * 2, self.max_pause)


def announcement(room: str, position: int) -> str:
    """What a backend sends to every process: ``"room position"``."""
    return f"{room} {position}"


def parse_announcement(payload: str) -> tuple[str, int | None]:
    """An :func:`announcement` read back; a malformed position is ignored."""
    room, _, position = payload.partition(" ")
    return room, int(position) if position.isascii() and position.isdigit() else None
