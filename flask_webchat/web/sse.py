"""Server-Sent Events: the wire format of ``GET /events``.

Each event of the room's history carries ``id:`` (its cursor), ``event:`` (``message``,
``update``, ``delete`` or ``cursor``) and one line of JSON ``data:``; the ephemeral ``presence``
and ``typing`` events carry no ``id:``. The browser's ``EventSource`` sends the last ``id:`` it
received back as ``Last-Event-ID`` when it reconnects, so a stream resumes exactly where the
reader is.

A ``cursor`` event (data ``{"cursor": "…"}``) moves that cursor and shows nothing: it comes
first, so that a stream cut before its first message still resumes at the right place, and after
a batch whose cursor passed positions that hold no visible event. It used to be a block with only
an ``id:``, which ``EventSource`` skips, but httpx-sse and sseclient-py hand it over as a
``message`` with empty data, which breaks ``json()``; a named event with a JSON body is
well-formed for all of them, and ``EventSource`` ignores an event nobody listens for.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

from ..batches import Batch, Deletion, Update
from ..errors import Forbidden
from ..i18n import N_
from ..schemas import DeletionSchema, MessageSchema
from .locale import localized

_DELETION = DeletionSchema()
_REVOKED = N_("You may no longer read this room.")
# The text of each event of a batch, by position and the viewer's view of it: readers woken
# together share one batch (see flask_webchat.sharing), and most of them see it alike.
_TEXTS: weakref.WeakKeyDictionary[Batch, dict[tuple[Any, ...], str]] = weakref.WeakKeyDictionary()


class Feed(Protocol):
    """What :func:`encode_stream` asks the stream it writes."""

    def next_batch(self, cursor: int) -> Batch:
        """The batch after ``cursor``, waiting up to one heartbeat interval for one."""

    def allowed(self) -> bool:
        """Whether the reader may still read the room."""

    def ephemeral(self) -> list[tuple[str, dict[str, Any]]]:
        """The events waiting that are not in the room's history, as ``(kind, data)``."""


def encode_stream(
    first: Batch,
    feed: Feed,
    *,
    schema: MessageSchema,
    retry_ms: int,
) -> Iterator[str]:
    """The text of an event stream: ``first``, then ``feed.next_batch(cursor)`` for ever.

    An empty batch becomes a heartbeat comment line, which also lets the server notice a reader
    that has gone away. Before each batch after the first, ``feed.allowed()`` says whether the
    reader may still read the room; once it says no, a ``revoked`` event (no ``id:``, its data
    the error's JSON) ends the stream.

    ``feed.ephemeral()`` gives the events waiting that are not in the room's history
    (``presence``, ``typing``): each is written after the batch, with no ``id:``, so that it is
    never replayed and never moves the cursor; a batch woken only for them writes no heartbeat.
    """
    yield opening(first, retry_ms)
    batch = first
    while True:
        if batch is not first and not feed.allowed():
            message = localized(_REVOKED)
            revoked = {"status": Forbidden.status, "code": Forbidden.code, "message": message}
            yield f"event: revoked\ndata: {json.dumps(revoked)}\n\n"
            return
        extra = "".join(_ephemeral(kind, data) for kind, data in feed.ephemeral())
        if not batch.empty:
            yield encode_batch(batch, schema) + extra
        elif extra and batch.cursor == batch.start:
            yield extra
        else:
            yield _gap_or_heartbeat(batch) + extra
        batch = feed.next_batch(batch.cursor)


def opening(first: Batch, retry_ms: int) -> str:
    """What a stream starts with: the reconnection delay and the cursor it starts from."""
    return f"retry: {retry_ms}\n" + _cursor_event(first.start)


def encode_batch(batch: Batch, schema: MessageSchema) -> str:
    """One batch as event-stream text, as ``schema``'s viewer sees it: its events, then its
    cursor if it passed a gap.

    The Pushpin edge publishes exactly this text (see :mod:`flask_webchat.web.grip`).
    """
    texts = _TEXTS.setdefault(batch, {})
    parts, sent = [], batch.start
    for position, event in batch.events():
        if isinstance(event, Deletion):
            parts.append(_event(position, "delete", _DELETION.dump(event)))
        else:
            # An update carries the message's whole current state, as a ``message`` event does.
            message = event.message if isinstance(event, Update) else event
            key = (position, *schema.view_of(message))
            text = texts.get(key)
            if text is None:
                kind = "update" if isinstance(event, Update) else "message"
                text = texts[key] = _event(position, kind, schema.dump(message))
            parts.append(text)
        sent = position
    if batch.cursor != sent:
        parts.append(_cursor_event(batch.cursor))
    return "".join(parts)


def _gap_or_heartbeat(batch: Batch) -> str:
    if batch.cursor != batch.start:
        return _cursor_event(batch.cursor)
    # A comment line without the blank line that ends a block: parsers that keep the last id
    # (httpx-sse) would dispatch an empty "message" at a blank line; a lone comment dispatches
    # nothing anywhere, and still keeps proxies and timeouts at bay.
    return ": heartbeat\n"


def _event(position: int, kind: str, data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {position}\nevent: {kind}\ndata: {text}\n\n"


def _ephemeral(kind: str, data: dict[str, Any]) -> str:
    # No id: line: EventSource keeps the last id it had, so a reconnection resumes at the
    # last event of the history, and nothing ephemeral is ever sent twice.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {text}\n\n"


def _cursor_event(position: int) -> str:
    return _event(position, "cursor", {"cursor": str(position)})
