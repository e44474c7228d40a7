"""Shared reads stay within their memory budget, however many cursors readers stand at."""

from __future__ import annotations

from flask_webchat.batches import Batch
from flask_webchat.models import ChatMessage
from flask_webchat.sharing import SharedReads, weight


def long_batch(after: int, size: int = 50) -> Batch:
    messages = tuple(
        ChatMessage(id=after + n, seq=after + n, username="guest", content="長" * 1000)
        for n in range(1, size + 1)
    )
    return Batch(start=after, cursor=after + size, head=after + size, messages=messages)


def test_the_cache_holds_the_newest_batches_up_to_its_byte_budget() -> None:
    one = weight(long_batch(0))
    assert one > 50 * 2000  # a thousand CJK characters are two bytes each, and more
    shared = SharedReads(max_bytes=5 * one)
    for after in range(0, 400 * 50, 50):  # 400 readers at 400 cursors of a room of long messages
        batch = long_batch(after)
        assert shared.read("lobby", after, 200, batch.head, lambda b=batch: b) is batch
        assert shared.held_bytes <= shared.max_bytes
    assert shared.held_bytes >= 4 * one  # the budget is used, not left empty
    reads: list[int] = []

    def read_again(after: int) -> Batch:
        reads.append(after)
        return long_batch(after)

    # The newest batch is still shared; the oldest one is gone and read again.
    shared.read("lobby", 399 * 50, 200, 399 * 50 + 50, lambda: read_again(399 * 50))
    shared.read("lobby", 0, 200, 50, lambda: read_again(0))
    assert reads == [0]
