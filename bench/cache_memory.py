"""Memory the shared reads hold when readers stand at many cursors of a room of long messages.

Readers at 400 different cursors, each read woken at once, leave 400 batches of 200 messages of
1,000 characters. The cache keeps them up to its byte budget; the count-bounded cache it
replaced kept the newest 256 of any size. Printed side by side, measured with tracemalloc::

    python bench/cache_memory.py
"""

from __future__ import annotations

import gc
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable

from flask_webchat.batches import Batch
from flask_webchat.models import ChatMessage
from flask_webchat.sharing import SharedReads

READERS, PER_BATCH = 400, 200


def long_batch(after: int) -> Batch:
    messages = tuple(
        ChatMessage(id=after + n, seq=after + n, username="guest", content=f"{n:04d}" * 250)
        for n in range(1, PER_BATCH + 1)
    )
    return Batch(start=after, cursor=after + PER_BATCH, head=after + PER_BATCH, messages=messages)


class CountBounded:
    """The policy before: the newest 256 batches, whatever their size."""

    def __init__(self, size: int = 256) -> None:
        self.size, self.batches = size, OrderedDict()

    def read(self, key: object, known: int, compute: Callable[[], Batch]) -> Batch:
        batch = self.batches[key] = compute()
        while len(self.batches) > self.size:
            self.batches.popitem(last=False)
        return batch


def held_mb(cache: object) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for reader in range(READERS):
        after = reader * PER_BATCH
        cache.read(("lobby", after, PER_BATCH), after + PER_BATCH, lambda a=after: long_batch(a))  # type: ignore[attr-defined]
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / 1e6


def main() -> None:
    print(f"{READERS} readers at distinct cursors, batches of {PER_BATCH} x 1,000 characters")
    bounded_by_count = held_mb(CountBounded())
    bounded_by_bytes = held_mb(SharedReads())
    print(f"{'cache':<28} {'held MB':>8}")
    print(f"{'256 batches (before)':<28} {bounded_by_count:>8.1f}")
    print(f"{'16 MB budget (now)':<28} {bounded_by_bytes:>8.1f}")
    print(f"ratio now/before: {bounded_by_bytes / bounded_by_count:.2f}")


if __name__ == "__main__":
    main()
