"""Server-Sent Events: the wire format of ``GET /events``.

Each event carries ``id:`` (its cursor), ``event:`` (``message`` or ``delete``) and one line of
JSON ``data:``. The browser's ``EventSource`` sends the last ``id:`` it received back as
``Last-Event-ID`` when it reconnects, so a stream resumes exactly where the reader is. A block
with only an ``id:`` moves that cursor without dispatching an event; it is sent first, and after
a batch whose cursor passed positions that hold no visible event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from ..batches import Batch, Deletion
from ..models import ChatMessage
from ..schemas import DeletionSchema

_DELETION = DeletionSchema()


def encode_stream(
    first: Batch,
    next_batch: Callable[[int], Batch],
    *,
    dump_message: Callable[[ChatMessage], dict[str, Any]],
    retry_ms: int,
) -> Iterator[str]:
    """The text of an event stream: ``first``, then ``next_batch(cursor)`` for ever.

    ``next_batch`` waits up to one heartbeat interval; an empty batch becomes a heartbeat
    comment, which also lets the server notice a reader that has gone away.
    """
    yield opening(first, retry_ms)
    batch = first
    while True:
        yield encode_batch(batch, dump_message) if not batch.empty else _gap_or_heartbeat(batch)
        batch = next_batch(batch.cursor)


def opening(first: Batch, retry_ms: int) -> str:
    """What a stream starts with: the reconnection delay and the cursor it starts from."""
    return f"retry: {retry_ms}\nid: {first.start}\n\n"


def encode_batch(batch: Batch, dump_message: Callable[[ChatMessage], dict[str, Any]]) -> str:
    """One batch as event-stream text: its events, then its cursor if it passed a gap.

    The Pushpin edge publishes exactly this text (see :mod:`flask_webchat.web.grip`).
    """
    parts, sent = [], batch.start
    for position, event in batch.events():
        if isinstance(event, Deletion):
            parts.append(_event(position, "delete", _DELETION.dump(event)))
        else:
            parts.append(_event(position, "message", dump_message(event)))
        sent = position
    if batch.cursor != sent:
        parts.append(f"id: {batch.cursor}\n\n")
    return "".join(parts)


def _gap_or_heartbeat(batch: Batch) -> str:
    return f"id: {batch.cursor}\n\n" if batch.cursor != batch.start else ": heartbeat\n\n"


def _event(position: int, kind: str, data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {position}\nevent: {kind}\ndata: {text}\n\n"
