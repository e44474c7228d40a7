"""The operations on one room, by path, as the document lists them for each mount of a room."""

from __future__ import annotations

from typing import Any

from ...errors import (
    AlreadyDeleted,
    BodyTooLarge,
    CrossSiteRequest,
    CsrfRefused,
    DatabaseUnavailable,
    Forbidden,
    IdentityRequired,
    MalformedJSON,
    MessageNotFound,
    MessageRejected,
    RateLimited,
    UnknownRoom,
    UnknownStream,
    UnsupportedMediaType,
    ValidationFailed,
    WebchatError,
)
from ...rooms import NAME_RULE
from ...schemas import Cursor, EventsArgsSchema, HistoryArgsSchema, PollArgsSchema
from . import presence
from .answers import _json, _operation

_ROOM = {
    "name": "room",
    "in": "path",
    "required": True,
    "description": NAME_RULE.capitalize() + ".",
    "schema": {"type": "string"},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "One key per draft, sent again with every retry of it (1 to 64 visible ASCII"
        " characters): a repeat by the same author within WEBCHAT_IDEMPOTENCY_TTL answers with"
        " the message the first post stored, and stores nothing."
    ),
    "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,64}$"},
}
_MESSAGE_ID = {
    "name": "message_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}

_EMOJI = {
    "name": "emoji",
    "in": "path",
    "required": True,
    "description": "One emoji (one grapheme cluster), URL-encoded.",
    "schema": {"type": "string"},
}


def _room_operations(scoped: bool) -> dict[str, dict[str, Any]]:
    """The operations on one room, by path: of the default room, or under ``/rooms/{room}``."""
    room = " of the room" if scoped else " of the default room"
    parameters = [_ROOM] if scoped else []
    errors: list[type[WebchatError]] = [Forbidden, *([UnknownRoom] if scoped else [])]

    def named(operation_id: str) -> str:
        return f"room{operation_id[0].upper()}{operation_id[1:]}" if scoped else operation_id

    # What every write to an existing message may answer besides its own errors.
    writing: list[type[WebchatError]] = [
        CsrfRefused,
        *errors,
        CrossSiteRequest,
        DatabaseUnavailable,
    ]

    return {
        **presence.operations(named, parameters, errors, room),
        "/": {
            "get": {
                **_operation(
                    named("chatPage"),
                    f"The chat page{room}; a known browser's load opens the tab a reader stream.",
                    {200: {"description": "The page.", "content": {"text/html": {"schema": {}}}}},
                    [*errors, DatabaseUnavailable],
                ),
                "parameters": [*parameters],
            }
        },
        "/messages": {
            "get": {
                **_operation(
                    named("pollMessages"),
                    "Every event since the reader's cursor, oldest first, exactly once.",
                    {200: _json("The events and the cursor to continue from.", "Poll")},
                    [*errors, UnknownStream, ValidationFailed, DatabaseUnavailable],
                ),
                "parameters": [*parameters, {"in": "query", "schema": PollArgsSchema}],
            },
            "post": {
                **_operation(
                    named("postMessage"),
                    f"Post a message{room} as the host's identity, or under the name in the body.",
                    {
                        201: {
                            **_json("The message as stored.", "Message"),
                            "headers": {
                                "Location": {
                                    "description": "The message's URL.",
                                    "schema": {"type": "string"},
                                }
                            },
                        }
                    },
                    [
                        MalformedJSON,
                        CsrfRefused,
                        *errors,
                        IdentityRequired,
                        CrossSiteRequest,
                        AlreadyDeleted,
                        BodyTooLarge,
                        UnsupportedMediaType,
                        ValidationFailed,
                        MessageRejected,
                        RateLimited,
                        DatabaseUnavailable,
                    ],
                ),
                "parameters": [*parameters, _IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "NewMessage"}},
                },
            },
        },
        "/streams": {
            "post": {
                **_operation(
                    named("openStream"),
                    f"Open a reader stream{room} for one tab or client, as a page load does.",
                    {
                        201: {
                            **_json(
                                "The stream, and the cursor its first read starts after. Give"
                                " each tab its own: a stream delivers each event once. In a room"
                                ' nobody posted to yet, it creates the room (cursor "0"), which'
                                " counts as a write under the rate limit.",
                                "Stream",
                            ),
                            "headers": {
                                "Location": {
                                    "description": "The poll URL that reads the stream.",
                                    "schema": {"type": "string"},
                                }
                            },
                        }
                    },
                    [CsrfRefused, *errors, CrossSiteRequest, RateLimited, DatabaseUnavailable],
                ),
                "parameters": [*parameters],
            }
        },
        "/read": {
            "post": {
                **_operation(
                    named("markRead"),
                    f"Move the reader's read position{room} forward to a cursor; never back.",
                    {200: _json("The read position now, and what is left unread.", "ReadState")},
                    [
                        MalformedJSON,
                        CsrfRefused,
                        *errors,
                        CrossSiteRequest,
                        BodyTooLarge,
                        UnsupportedMediaType,
                        ValidationFailed,
                        DatabaseUnavailable,
                    ],
                ),
                "parameters": [*parameters],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "Read"}},
                },
            }
        },
        "/messages/{message_id}": {
            "get": {
                **_operation(
                    named("getMessage"),
                    "One message, if it still exists"
                    + (" in this room." if scoped else " (in any room)."),
                    {200: _json("The message.", "Message")},
                    [*errors, MessageNotFound, DatabaseUnavailable],
                ),
                "parameters": [*parameters, _MESSAGE_ID],
            },
            "delete": {
                **_operation(
                    named("deleteMessage"),
                    "Delete a message the reader wrote, or may moderate"
                    + (", in this room." if scoped else " (in any room)."),
                    {204: {"description": "Deleted; every reader's next poll lists its id."}},
                    [
                        CsrfRefused,
                        *errors,
                        CrossSiteRequest,
                        MessageNotFound,
                        RateLimited,
                        DatabaseUnavailable,
                    ],
                ),
                "parameters": [*parameters, _MESSAGE_ID],
            },
            "patch": {
                **_operation(
                    named("editMessage"),
                    "Edit a message the reader may edit; every reader gets it as an update.",
                    {200: _json("The message as edited.", "Message")},
                    [
                        *writing,
                        MessageNotFound,
                        BodyTooLarge,
                        UnsupportedMediaType,
                        ValidationFailed,
                        MessageRejected,
                        RateLimited,
                    ],
                ),
                "parameters": [*parameters, _MESSAGE_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "MessageEdit"}},
                },
            },
        },
        "/messages/{message_id}/reactions/{emoji}": {
            method: {
                **_operation(
                    named(name),
                    summary,
                    {200: _json("The message, with its reactions now.", "Message")},
                    [*writing, IdentityRequired, MessageNotFound, ValidationFailed, RateLimited],
                ),
                "parameters": [*parameters, _MESSAGE_ID, _EMOJI],
            }
            for method, name, summary in (
                ("put", "addReaction", "Add the reader's reaction (again: no change)."),
                ("delete", "removeReaction", "Remove the reader's reaction (absent: no change)."),
            )
        },
        "/messages/history": {
            "get": {
                **_operation(
                    named("messageHistory"),
                    f"Older messages{room}, newest first, a page at a time; moves no cursor.",
                    {200: _json("A page, and the cursor of the next one.", "History")},
                    [*errors, ValidationFailed, DatabaseUnavailable],
                ),
                "parameters": [*parameters, {"in": "query", "schema": HistoryArgsSchema}],
            }
        },
        "/events": {
            "get": {
                **_operation(
                    named("streamEvents"),
                    "The reader's events as Server-Sent Events, exactly once, resumable.",
                    {
                        200: {
                            "description": (
                                "An endless `text/event-stream`. Each event has `id:` (its"
                                " cursor), `event:` (`message` or `update`, data a `Message`;"
                                " `delete`, data a `Deletion`; or `cursor`, data"
                                ' `{"cursor": …}`, which moves'
                                " the cursor and shows nothing) and one line of JSON `data:`. A"
                                " `cursor` event comes first. Without `id:`, never replayed:"
                                ' `presence` (data a `Presence`) and `typing` (`{"name": …,'
                                ' "typing": true|false}`). A comment line comes every'
                                " WEBCHAT_HEARTBEAT seconds of silence. Generated clients"
                                " (openapi-python-client and the like) cannot read an endless"
                                " stream: use an SSE client (EventSource, httpx-sse), or"
                                " long-poll `pollMessages` with `wait`."
                            ),
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        }
                    },
                    [*errors, UnknownStream, ValidationFailed, DatabaseUnavailable],
                ),
                "parameters": [
                    *parameters,
                    {"in": "query", "schema": EventsArgsSchema},
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "description": "Resume after this cursor (sent by EventSource).",
                        "schema": {"type": "string", "pattern": Cursor().metadata["pattern"]},
                    },
                ],
            }
        },
    }
