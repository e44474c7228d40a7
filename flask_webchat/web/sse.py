"""Server-Sent Events: the wire format of ``GET /events``.

Each event carries ``id:`` (its cursor), ``event:`` (``message``, ``delete`` or ``cursor``) and
one line of JSON ``data:``. The browser's ``EventSource`` sends the last ``id:`` it received back
as ``Last-Event-ID`` when it reconnects, so a stream resumes exactly where the reader is.

A ``cursor`` event (data ``{"cursor": "…"}``) moves that cursor and shows nothing: it comes
first, so that a stream cut before its first message still resumes at the right place, and after
a batch whose cursor passed positions that hold no visible event. It used to be a block with only
an ``id:``, which ``EventSource`` skips, but httpx-sse and sseclient-py hand it over as a
``message`` with empty data, which breaks ``json()``; a named event with a JSON body is
well-formed for all of them, and ``EventSource`` ignores an event nobody listens for.
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
    comment line, which also lets the server notice a reader that has gone away.
    """
    yield f"retry: {retry_ms}\n" + _cursor_event(first.start)
    batch = first
    while True:
        sent = batch.start
        for position, event in batch.events():
            if isinstance(event, Deletion):
                yield _event(position, "delete", _DELETION.dump(event))
            else:
                yield _event(position, "message", dump_message(event))
            sent = position
        if batch.cursor != sent:
            yield _cursor_event(batch.cursor)
        elif batch.empty:
            # A comment line without the blank line that ends a block: parsers that keep the
            # last id (httpx-sse) would dispatch an empty "message" at a blank line; a lone
            # comment dispatches nothing anywhere, and still keeps proxies and timeouts at bay.
            yield ": heartbeat\n"
        batch = next_batch(batch.cursor)


def _event(position: int, kind: str, data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {position}\nevent: {kind}\ndata: {text}\n\n"


def _cursor_event(position: int) -> str:
    return _event(position, "cursor", {"cursor": str(position)})
