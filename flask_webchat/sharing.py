"""One database read for many waiting readers: what makes a post to a busy room cheap.

A post wakes every reader of its room in this process at once, and most of them stand at the same
cursor. Instead of each reading the same range, the first reads it and the others take the same
batch. Sharing never costs exactness: a batch is the events in ``(after, head]`` for a head read
from the database, so it is right for anyone continuing from ``after``; it is shared with a
reader only if it reaches the position the reader's signal was known up to
(:attr:`flask_webchat.notifiers.Wakeup.known`), so no announced event is left out, and events
after it set the reader's signal.

A batch that reaches its head also answers the question its readers ask next, from its cursor:
nothing up to that head. That empty batch is kept with it, so the readers' next read, which
comes at once, costs no query either.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable

from .batches import Batch

#: A batch's room, the cursor it continues from, and its limit.
_Key = tuple[str, int, int]


class SharedReads:
    """Recent batches by room, cursor and limit, and reads in flight, for one app.

    Safe across threads and gevent greenlets. Holds the most recently used batches up to about
    ``max_bytes`` of memory, whatever their number: readers at many cursors of a room of long
    messages cannot grow a worker without bound. Batches are frozen and their messages detached,
    so every reader may hold the same one.
    """

    #: How long a reader waits for another's read before reading itself, in seconds.
    patience = 5.0

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._batches: OrderedDict[_Key, tuple[Batch, int]] = OrderedDict()
        #: The estimated size of the batches held, in bytes.
        self.held_bytes = 0
        self._flights: dict[_Key, tuple[int, threading.Event]] = {}

    def read(
        self, room: str, after: int, limit: int, known: int, compute: Callable[[], Batch]
    ) -> Batch:
        """A batch of ``room`` from ``after`` whose head is at least ``known``: shared, or
        read by ``compute``.

        A reader waits for one read in flight at most; if that does not reach ``known`` either
        (an announced position the database does not have, after a restore, say), it reads for
        itself, so readers never queue up one behind another.
        """
        key = (room, after, limit)
        waited = alone = False
        while not alone:
            with self._lock:
                cached = self._batches.get(key)
                if cached is not None and cached[0].head >= known:
                    self._batches.move_to_end(key)
                    return cached[0]
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
                self._keep(key, batch)
                if not batch.more and batch.cursor != after:
                    self._keep((room, batch.cursor, limit), Batch.at(batch.cursor))
            return batch
        finally:
            with self._lock:
                if self._flights.get(key) == (known, done):
                    del self._flights[key]
            done.set()

    def _keep(self, key: _Key, batch: Batch) -> None:
        """Hold ``batch`` as the newest, letting the oldest go past ``max_bytes`` (lock held)."""
        replaced = self._batches.pop(key, None)
        if replaced is not None:
            self.held_bytes -= replaced[1]
        size = weight(batch)
        self._batches[key] = (batch, size)
        self.held_bytes += size
        while self.held_bytes > self.max_bytes and self._batches:
            _, (_, dropped) = self._batches.popitem(last=False)
            self.held_bytes -= dropped


# What a loaded, detached message costs besides its text (measured: about 2 KB in CPython).
_MESSAGE_OVERHEAD = 2048


def weight(batch: Batch) -> int:
    """About how many bytes of memory ``batch`` holds."""
    shown = [*batch.messages, *batch.updated]
    texts = sum(sys.getsizeof(m.content) + sys.getsizeof(m.username) for m in shown)
    return 256 + len(shown) * _MESSAGE_OVERHEAD + texts + 64 * len(batch.deletions)
