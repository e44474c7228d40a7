"""Rooms on the wire: the pages of ``GET /rooms``."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from ..i18n import N_
from ..rooms import NAME_PATTERN
from .fields import Cursor, UTCDateTime


class RoomSchema(Schema):
    """A room as ``GET /rooms`` lists it."""

    name = fields.String(required=True)
    messages = fields.Integer(attribute="message_count", required=True)
    last_activity = UTCDateTime(attribute="last_event_at", allow_none=True, required=True)
    #: The room's newest position: ``?after=`` it reads only what comes next.
    cursor = Cursor(required=True)
    #: Messages after the reader's read position that others wrote, at most
    #: ``WEBCHAT_UNREAD_LIMIT``.
    unread = fields.Integer(required=True)
    #: True when there are more unread messages than ``unread`` says.
    unread_capped = fields.Boolean(required=True)


class RoomListArgsSchema(Schema):
    """The query string of ``GET /rooms``: a page of rooms, by name."""

    class Meta:
        unknown = EXCLUDE

    after = fields.String(
        validate=validate.Regexp(f"^{NAME_PATTERN.pattern}\\Z", error=N_("Not a room name.")),
        metadata={
            "description": "The `next` of the previous page; without it, the first.",
            # Documented in ECMA-262's words, which end a string with $ (Python: \Z).
            "pattern": f"^{NAME_PATTERN.pattern}$",
        },
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class RoomListSchema(Schema):
    """The answer of ``GET /rooms``: a page of rooms, and where the next one starts."""

    rooms = fields.Nested(RoomSchema, many=True, required=True)
    #: Pass as ``after`` for the next page; ``null`` on the last.
    next = fields.String(allow_none=True, required=True)
