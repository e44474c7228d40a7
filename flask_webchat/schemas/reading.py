"""Reading a room on the wire: polls, event streams, history pages and read positions."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from ..i18n import N_
from ..identity import Viewer
from .fields import Cursor
from .messages import MessageSchema
from .presence import PresenceSchema

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_PRESENCE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class EventsArgsSchema(Schema):
    """The query string of ``GET /events``: which reader, from where."""

    class Meta:
        unknown = EXCLUDE

    stream = fields.String(
        validate=validate.Regexp(_TOKEN, error=N_("Not a valid stream id.")),
        metadata={
            "description": "A tab's stream: the page's `data-stream`, or the `stream` that"
            " `POST /streams` answered."
        },
    )
    after = Cursor(
        metadata={
            "description": "Read from this cursor; with `stream`, move the stream here first."
            " `Last-Event-ID` takes precedence."
        }
    )
    presence_id = fields.String(
        validate=validate.Regexp(_PRESENCE_ID, error=N_("Not a valid presence id.")),
        metadata={
            "description": "The client's own random name for itself in the room's presence (8 to"
            " 64 letters, digits, `-` or `_`). Without a session, an event stream counts as this"
            " one guest (a poll counts nobody); with one, a stream or a poll replaces that guest"
            " (a first post made the session), so that the client is counted once."
        },
    )


class PollArgsSchema(EventsArgsSchema):
    """The query string of ``GET /messages``."""

    class Meta:
        unknown = EXCLUDE

    # Only event streams take Last-Event-ID: the poll's own description says so.
    after = Cursor(
        metadata={
            "description": "Read from this cursor (the `cursor` of an earlier answer); alone, the"
            " poll is stateless and moves nothing. With `stream`, move the stream here first."
        }
    )

    limit = fields.Integer(validate=validate.Range(min=1))
    wait = fields.Float(
        validate=validate.Range(min=0),
        metadata={
            "description": "Long-poll: answer as soon as there is an event, or empty after this"
            " many seconds (at most WEBCHAT_MAX_WAIT)."
        },
    )
    presence = fields.Boolean(
        metadata={"description": "Also answer who is in the room now, as `presence`."}
    )


class PollSchema(Schema):
    """A poll's answer: new messages, deleted ids, changed messages and the cursor to continue
    from.

    A client applies ``messages`` (adding those it lacks), then ``updated`` (replacing those it
    holds by their current state), then ``deleted`` (removing them). A message may be in both
    ``messages`` and ``updated``, with the same state; one in ``deleted`` is in neither.
    """

    messages = fields.Nested(MessageSchema, many=True, required=True)
    deleted = fields.List(fields.Integer(), required=True)
    updated = fields.Nested(MessageSchema, many=True, required=True)
    cursor = Cursor(required=True)
    more = fields.Boolean(required=True)
    #: The stream that was read; ``null`` for a stateless poll with ``after``.
    stream = fields.String(allow_none=True, required=True)
    #: Who is in the room, when the poll asked (``presence=true``) and the host allows it.
    presence = fields.Nested(PresenceSchema)

    def __init__(self, *, viewer: Viewer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in ("messages", "updated"):
            self.fields[name].schema.own_viewer = viewer  # type: ignore[attr-defined]


class StreamSchema(Schema):
    """The answer of ``POST /streams``: a new reader stream, and where its first read starts.

    Pass ``stream`` to ``GET /messages`` or ``GET /events``; keep ``cursor`` (and the cursor of
    every answer after it) to read on with ``after`` if the server ever drops the stream.
    """

    stream = fields.String(attribute="token", required=True)
    cursor = Cursor(required=True)


class HistoryArgsSchema(Schema):
    """The query string of ``GET /messages/history``."""

    class Meta:
        unknown = EXCLUDE

    before = Cursor(
        metadata={"description": "The `next` of the previous page; without it, the newest."}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class HistorySchema(Schema):
    """A page of older messages, newest first, and the cursor of the next (older) page."""

    messages = fields.Nested(MessageSchema, many=True, required=True)
    #: ``null`` once the room's oldest message is in this page.
    next = Cursor(allow_none=True, required=True)

    def __init__(self, *, viewer: Viewer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields["messages"].schema.own_viewer = viewer  # type: ignore[attr-defined]


class ReadSchema(Schema):
    """The body of ``POST /read``: ``{"cursor": "…"}``, the newest position the reader has seen."""

    class Meta:
        unknown = EXCLUDE

    cursor = Cursor(
        required=True,
        metadata={
            "description": "A message's `cursor`, or any answer's: the reader has read up to"
            " here. An older cursor than the stored one changes nothing; one past the room's"
            " newest event is refused."
        },
    )


class ReadStateSchema(Schema):
    """The answer of ``POST /read``: the reader's read position now, and what is left unread."""

    room = fields.String(required=True)
    #: The stored read position (the greater of the old one and the cursor sent).
    cursor = Cursor(attribute="position", required=True)
    unread = fields.Integer(attribute="count", required=True)
    unread_capped = fields.Boolean(attribute="capped", required=True)
