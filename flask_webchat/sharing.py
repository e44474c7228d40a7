"""One database read for many waiting readers: what makes a post to a busy room cheap.

A post wakes every reader of its room in this process at once, and most of them stand at the same
cursor. Instead of each reading the same range, the first reads it and the others take the same
batch. Sharing never costs exactness: a batch is the events in ``(after, head]`` for a head read
from the database, so it is right for anyone continuing from ``after``; it is shared with a
reader only if it reaches the position the reader's signal was known up to
(:attr:`flask_webchat.notifiers.Wakeup.known`), so no announced event is left out, and events
after it set the reader's signal.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .batches import Batch


class SharedReads:
    """Recent batches by ``(room, after, limit)``, and reads in flight, for one app.

    Safe across threads and gevent greenlets. Holds at most ``size`` batches, the most recently
    used. Batches are frozen and their messages detached, so every reader may hold the same one.
    """

    #: How long a reader waits for another's read before reading itself, in seconds.
    patience = 5.0

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._batches: OrderedDict[Hashable, Batch] = OrderedDict()
        self._flights: dict[Hashable, tuple[int, threading.Event]] = {}

    def read(self, key: Hashable, known: int, compute: Callable[[], Batch]) -> Batch:
        """A batch for ``key`` whose head is at least ``known``: shared, or read by ``compute``.

        A reader waits for one read in flight at most; if that does not reach ``known`` either
        (an announced position the database does not have, after a restore, say), it reads for
        itself, so readers never queue up one behind another.
        """
        waited = alone = False
        while not alone:
            with self._lock:
                cached = self._batches.get(key)
                if cached is not None and cached.head >= known:
                    self._batches.move_to_end(key)
                    return cached
                flight = self._flights.get(key)
                if flight is None:
                    # Lead a read: it starts now, after everything up to ``known`` committed.
                    done = threading.Event()
                    self._flights[key] = (known, done)
                    break
                # A read in flight that started too early for this reader, or that did not
                # reach ``known`` when waited for: read alone, and let it finish for the others.
                alone = waited or flight[0] < known
            if not alone:
                # Another reader is reading a range that will do: wait for it, then look again.
                waited = True
                alone = not flight[1].wait(self.patience)
        else:
            return compute()
        try:
            batch = compute()
            with self._lock:
                self._batches[key] = batch
                self._batches.move_to_end(key)
                while len(self._batches) > self._size:
                    self._batches.popitem(last=False)
            return batch
        finally:
            with self._lock:
                if self._flights.get(key) == (known, done):
                    del self._flights[key]
            done.set()
