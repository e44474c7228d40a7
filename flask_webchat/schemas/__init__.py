"""The wire format, in one place: what clients send and what they get back.

Hosts may use these schemas too, e.g. ``MessageSchema(many=True).dump(messages)`` in their own
views. Text limits are counted in Unicode code points, the way the database columns count them.

Every field of an answer's schema is ``required``: the server always sends it (``null`` where
``allow_none`` says so). ``required`` changes nothing when dumping; it is what the OpenAPI document
says, so that generated clients type the fields as present.
"""

# Split by concern; every name stays importable from here. ``X as X`` re-exports a name that
# `__all__` does not list (it lists what it listed before the split).
from .errors import ErrorDetailSchema as ErrorDetailSchema
from .errors import ErrorSchema
from .fields import Cursor, UTCDateTime, load
from .messages import IDEMPOTENCY_KEY as IDEMPOTENCY_KEY
from .messages import DeletionSchema, EditSchema, MessageSchema, NewMessageSchema
from .messages import MentionSchema as MentionSchema
from .messages import QuoteSchema as QuoteSchema
from .messages import ReactionSchema as ReactionSchema
from .messages import dump_for as dump_for
from .messages import seen_by as seen_by
from .presence import HereSchema as HereSchema
from .presence import PresenceSchema as PresenceSchema
from .presence import TypingSchema as TypingSchema
from .reading import (
    EventsArgsSchema,
    HistoryArgsSchema,
    HistorySchema,
    PollArgsSchema,
    PollSchema,
    ReadSchema,
    ReadStateSchema,
    StreamSchema,
)
from .rooms import RoomListArgsSchema, RoomListSchema, RoomSchema

__all__ = [
    "Cursor",
    "DeletionSchema",
    "EditSchema",
    "ErrorSchema",
    "EventsArgsSchema",
    "HistoryArgsSchema",
    "HistorySchema",
    "MessageSchema",
    "NewMessageSchema",
    "PollArgsSchema",
    "PollSchema",
    "ReadSchema",
    "ReadStateSchema",
    "RoomListArgsSchema",
    "RoomListSchema",
    "RoomSchema",
    "StreamSchema",
    "UTCDateTime",
    "load",
]
