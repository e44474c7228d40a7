"""Shared reads stay within their memory budget, however many cursors readers stand at, and
each reader still sees a shared batch as its own."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from flask_webchat.batches import Batch
from flask_webchat.identity import Viewer
from flask_webchat.models import ChatMessage
from flask_webchat.schemas import MessageSchema, PollSchema, dump_for, seen_by
from flask_webchat.sharing import SharedReads, weight
from flask_webchat.web.sse import encode_batch


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


def test_a_shared_batch_is_written_in_each_readers_own_view() -> None:
    # Readers woken together write one batch object; its text is kept per view, not per batch.
    posted = ChatMessage(
        id=1, seq=1, room_id=1, username="ann", content="hi", author_session="ann-key",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), system=False,
    )  # fmt: skip
    batch = Batch(start=0, cursor=1, head=1, messages=(posted,))
    author, other = Viewer(None, "ann-key"), Viewer(None, "bo-key")
    moderator = Viewer(None, "mod-key", moderates=True)

    def seen(viewer: Viewer) -> tuple[bool, bool]:
        (line,) = [x for x in encode_batch(batch, MessageSchema(viewer=viewer)).splitlines()
                   if x.startswith("data: ")]  # fmt: skip
        data = json.loads(line.removeprefix("data: "))
        return data["mine"], data["can_delete"]

    for _ in range(2):  # the second time from the kept texts
        assert seen(author) == (True, True)
        assert seen(other) == (False, False)
        assert seen(moderator) == (False, True)


def test_one_schema_built_once_dumps_each_viewers_own_view() -> None:
    # The web layer builds its schemas once and names the viewer per dump.
    posted = ChatMessage(
        id=1, seq=1, room_id=1, username="ann", content="hi", author_session="ann-key",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), system=False,
    )  # fmt: skip
    batch = Batch(start=0, cursor=1, head=1, messages=(posted,))
    author, other = Viewer(None, "ann-key"), Viewer(None, "bo-key")
    poll = PollSchema()

    def seen(viewer: Viewer | None) -> bool:
        return dump_for(viewer, poll, batch)["messages"][0]["mine"]

    assert [seen(author), seen(other), seen(author)] == [True, False, True]
    assert poll.dump(batch)["messages"][0]["mine"] is False  # no viewer once the dump is over
    with seen_by(other):
        # A schema built with its own viewer keeps it.
        assert PollSchema(viewer=author).dump(batch)["messages"][0]["mine"] is True
