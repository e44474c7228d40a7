"""The wire format, in one place: what clients send and what they get back.

Hosts may use these schemas too, e.g. ``MessageSchema(many=True).dump(messages)`` in their own
views. Text limits are counted in Unicode code points, the way the database columns count them.

Every field of an answer's schema is ``required``: the server always sends it (``null`` where
``allow_none`` says so). ``required`` changes nothing when dumping; it is what the OpenAPI document
says, so that generated clients type the fields as present.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from .details import details_of, mentions_of, reactor_key
from .errors import ValidationFailed
from .i18n import N_
from .identity import Viewer
from .models import ChatMessage
from .rooms import NAME_PATTERN
from .text import CONTENT_RULE, NAME_RULE

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

_CURSOR = re.compile(r"^[0-9]{1,18}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: What a client may send as ``Idempotency-Key``: 1 to 64 visible ASCII characters.
IDEMPOTENCY_KEY = fields.String(
    validate=validate.Regexp(
        r"^[\x21-\x7e]{1,64}\Z", error=N_("1 to 64 visible ASCII characters, without spaces.")
    )
)


def load(schema: Schema | fields.Field, data: Any, *, name: str | None = None) -> Any:
    """``data`` loaded by a schema, or by one field (reported under ``name``).

    Invalid input raises :class:`~flask_webchat.errors.ValidationFailed` with marshmallow's
    messages by field, which the HTTP API answers as 422.
    """
    try:
        if isinstance(schema, Schema):
            return schema.load(data)
        return schema.deserialize(data)
    except ValidationError as error:
        messages = error.normalized_messages() if name is None else {name: error.messages}
        raise ValidationFailed(messages) from None  # type: ignore[arg-type]


class UTCDateTime(fields.Field):
    """A UTC timestamp as ISO 8601 with a ``Z``, e.g. ``2026-11-24T09:15:02.125Z``."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"


class Cursor(fields.Field):
    """A reader's position: an opaque string on the wire, a room position on the server."""

    default_error_messages = {"invalid": N_("Not a valid cursor.")}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        # Described in the OpenAPI document with the pattern it accepts.
        kwargs["metadata"] = {"pattern": _CURSOR.pattern, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _serialize(self, value: int | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not _CURSOR.match(value):
            raise self.make_error("invalid")
        return int(value)


class QuoteSchema(Schema):
    """The message a reply answers, as a reply carries it: enough to show the quote."""

    id = fields.Integer(required=True)
    #: ``null`` once the parent is deleted.
    username = fields.String(allow_none=True, required=True)
    #: The start of the parent's current text, on one line; ``null`` once it is deleted.
    excerpt = fields.String(allow_none=True, required=True)


class ReactionSchema(Schema):
    """One emoji on a message (documentation of the items of ``reactions``)."""

    emoji = fields.String(required=True)
    count = fields.Integer(required=True)
    mine = fields.Boolean(required=True)


class MentionSchema(Schema):
    """One resolved ``@mention`` (documentation of the items of ``mentions``)."""

    name = fields.String(required=True)
    id = fields.String(required=True)


class MessageSchema(Schema):
    """A message as clients see it.

    ``cursor`` is the message's position in its room: reading ``after`` it continues just past this
    message, which is what a client that stops mid-batch needs. ``anonymous`` tells a name typed by
    an anonymous poster from one the host vouches for, so a page can set them apart. ``system``
    marks a notice the site itself posted (no author, an empty ``username``). Pass the
    current :class:`~flask_webchat.identity.Viewer` to fill ``mine`` and ``can_delete``; without
    one both are ``false``.
    """

    id = fields.Integer(dump_only=True, required=True)
    cursor = Cursor(attribute="seq", dump_only=True, required=True)
    username = fields.String(dump_only=True, required=True)
    content = fields.String(dump_only=True, required=True)
    created_at = UTCDateTime(dump_only=True, required=True)
    #: True when a name was typed by an anonymous poster rather than vouched for by the host.
    anonymous = fields.Function(
        lambda message: message.author_id is None and not message.system,
        dump_only=True,
        required=True,
        metadata={"type": "boolean"},
    )
    #: True for a notice the site posted itself ("Deploy finished"); never posted over HTTP.
    system = fields.Boolean(dump_only=True, required=True)
    mine = fields.Method("_is_mine", dump_only=True, metadata={"type": "boolean"}, required=True)
    can_delete = fields.Method(
        "_can_delete", dump_only=True, metadata={"type": "boolean"}, required=True
    )
    #: When the content was last edited; ``null`` if never.
    edited_at = UTCDateTime(dump_only=True, allow_none=True, required=True)
    #: The message this one answers, as it is now (``username`` and ``excerpt`` are ``null``
    #: once it is deleted); ``null`` for a message that answers none.
    reply_to = fields.Nested(QuoteSchema, dump_only=True, allow_none=True, required=True)
    #: Reactions in first-reacted order; ``mine``: the current reader's own.
    reactions = fields.List(fields.Nested(ReactionSchema), dump_only=True, required=True)
    #: The host users the text ``@mentions``, as the host's mention lookup resolved them.
    mentions = fields.List(fields.Nested(MentionSchema), dump_only=True, required=True)

    def __init__(self, *, viewer: Viewer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.viewer = viewer
        self._reactor = None if viewer is None else reactor_key(viewer)

    def _is_mine(self, message: ChatMessage) -> bool:
        return self.viewer is not None and self.viewer.is_author(message)

    def _can_delete(self, message: ChatMessage) -> bool:
        return self.viewer is not None and self.viewer.may_delete(message)

    def _reactions(self, message: ChatMessage) -> list[dict[str, Any]]:
        return [
            {"emoji": r.emoji, "count": r.count, "mine": self._reactor in r.reactors}
            for r in details_of(message).reactions
        ]

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # What readers see besides the row comes from the details read with it.
        if attr == "reply_to":
            return details_of(obj).reply_to
        if attr == "reactions":
            return self._reactions(obj)
        if attr == "mentions":
            return mentions_of(obj)
        return super().get_attribute(obj, attr, default)


class NewMessageSchema(Schema):
    """The body of ``POST /messages``: ``{"content": "…", "username": "…"}``.

    ``content`` is stripped, then must hold 1 to 1,024 characters; line breaks and tabs are kept.
    ``username`` is required when posting anonymously (``anonymous=True``) and ignored otherwise,
    since the host's identity names the author.
    """

    class Meta:
        unknown = EXCLUDE

    content = fields.String(
        required=True,
        validate=CONTENT_RULE,
        metadata={
            "pattern": CONTENT_RULE.pattern,
            "description": "1 to 1,024 characters once stripped; line breaks and tabs are kept.",
        },
    )
    reply_to = fields.Integer(
        allow_none=True,
        strict=True,
        metadata={"description": "The id of the message of the same room this one answers."},
    )
    username = fields.String(
        validate=NAME_RULE,
        metadata={
            "pattern": NAME_RULE.pattern,
            "description": "1 to 64 characters once stripped. Ignored for a signed-in author.",
        },
    )

    def __init__(self, *, anonymous: bool = True, **kwargs: Any) -> None:
        if not anonymous:
            kwargs["exclude"] = (*kwargs.get("exclude", ()), "username")
        super().__init__(**kwargs)
        if anonymous:
            self.fields["username"].required = True

    @pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data  # marshmallow reports the wrong type
        data = dict(data)
        if isinstance(data.get("content"), str):
            data["content"] = data["content"].replace("\r\n", "\n").strip()
        if isinstance(data.get("username"), str):
            data["username"] = data["username"].strip()
        return data


class EditSchema(Schema):
    """The body of ``PATCH /messages/<id>``: ``{"content": "…"}``, checked as a post's is."""

    class Meta:
        unknown = EXCLUDE

    content = NewMessageSchema._declared_fields["content"]

    @pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            data = {**data, "content": data["content"].replace("\r\n", "\n").strip()}
        return data


class EventsArgsSchema(Schema):
    """The query string of ``GET /events``: which reader, from where."""

    class Meta:
        unknown = EXCLUDE

    stream = fields.String(
        validate=validate.Regexp(_TOKEN, error=N_("Not a valid stream id.")),
        metadata={"description": "A tab's stream (the page's `data-stream`)."},
    )
    after = Cursor(
        metadata={
            "description": "Read from this cursor; with `stream`, move the stream here first."
            " `Last-Event-ID` takes precedence."
        }
    )


class PollArgsSchema(EventsArgsSchema):
    """The query string of ``GET /messages``."""

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


class PresenceSchema(Schema):
    """``GET /presence`` and a poll's ``presence``: who is in the room now."""

    users = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Signed-in users present, by display name, once each."},
    )
    guests = fields.Integer(
        required=True, metadata={"description": "How many readers who are not signed in."}
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
            nested = self.fields[name].schema  # type: ignore[attr-defined]
            nested.viewer = viewer
            nested._reactor = None if viewer is None else reactor_key(viewer)


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
        nested = self.fields["messages"].schema  # type: ignore[attr-defined]
        nested.viewer = viewer
        nested._reactor = None if viewer is None else reactor_key(viewer)


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


class DeletionSchema(Schema):
    """A ``delete`` event of ``GET /events``: which message, at which cursor."""

    id = fields.Integer(attribute="message_id", required=True)
    cursor = Cursor(required=True)


class ErrorDetailSchema(Schema):
    """What went wrong: the status again, a stable ``code``, a sentence, and per-field messages."""

    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"example": "invalid_fields"})
    message = fields.String(required=True)
    #: Only for 422: marshmallow's messages, by field name. (``fields`` is taken by Schema.)
    field_messages = fields.Dict(keys=fields.String(), data_key="fields")


class ErrorSchema(Schema):
    """Every error answer: ``{"error": {...}}``."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class HereSchema(PresenceSchema):
    """The answer of ``GET /presence``: a room's name, and who is in it."""

    room = fields.String(required=True)


class TypingSchema(Schema):
    """The body of ``POST /typing``: ``{}``, or ``{"username": "…"}`` for a guest."""

    class Meta:
        unknown = EXCLUDE

    username = fields.String(
        validate=NAME_RULE,
        metadata={
            "pattern": NAME_RULE.pattern,
            "description": "The name a guest types under. Ignored for a signed-in user.",
        },
    )

    @pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("username"), str):
            data = {**data, "username": data["username"].strip()}
        return data
