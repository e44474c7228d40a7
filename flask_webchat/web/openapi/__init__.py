"""The OpenAPI 3 document of the chat's HTTP API, generated from the marshmallow schemas.

Served at ``<prefix>/openapi.json``. Bodies and answers come from :mod:`flask_webchat.schemas`,
so the document cannot describe a field the views do not send. Each operation names the error
classes it may raise (:mod:`flask_webchat.errors`), whose codes and docstrings describe its error
answers; a test checks real answers against the document. This module assembles the document;
the operations on a room are in :mod:`.operations`, the way an operation is written in
:mod:`.answers`.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from ..._version import __version__
from ...errors import (
    CsrfRefused,
    DatabaseUnavailable,
    InternalError,
    MessageNotFound,
    MethodNotAllowed,
    UnknownRoute,
    ValidationFailed,
)
from ...schemas import (
    Cursor,
    DeletionSchema,
    EditSchema,
    ErrorSchema,
    HereSchema,
    HistorySchema,
    MessageSchema,
    NewMessageSchema,
    PollSchema,
    PresenceSchema,
    ReadSchema,
    ReadStateSchema,
    RoomListArgsSchema,
    RoomListSchema,
    StreamSchema,
    TypingSchema,
    UTCDateTime,
)
from .answers import _json, _operation
from .operations import _room_operations


def build_spec(server_url: str) -> dict[str, Any]:
    """The document for the blueprint mounted at ``server_url`` (e.g. ``/chat``)."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="flask-webchat",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        servers=[
            {
                "url": server_url.rstrip("/") or "/",
                "description": (
                    "The chat's mount point, relative to the site that serves this document"
                    " (e.g. https://example.com/chat): give a generated client that base URL."
                ),
            }
        ],
        info={
            "description": (
                "A chat room's messages: read from a cursor, post, delete. Every error has the"
                f" `Error` shape, including 404 `{UnknownRoute.code}` for a path that does not"
                f" exist (never a missing message's `{MessageNotFound.code}`) and 405"
                f" `{MethodNotAllowed.code}` for a method a path does not take (with an `Allow`"
                f" header), and 500 `{InternalError.code}` for a bug on the server (logged"
                f" there, never shown as a traceback). `{CsrfRefused.code}` comes only from a"
                " host using Flask-WTF."
            )
        },
    )
    plugin.map_to_openapi_type(Cursor, "string", None)
    plugin.map_to_openapi_type(UTCDateTime, "string", "date-time")
    spec.components.schema("Message", schema=MessageSchema)
    spec.components.schema("NewMessage", schema=NewMessageSchema)
    spec.components.schema("MessageEdit", schema=EditSchema)
    spec.components.schema("Presence", schema=PresenceSchema)
    spec.components.schema("Poll", schema=PollSchema)
    spec.components.schema("Deletion", schema=DeletionSchema)
    spec.components.schema("History", schema=HistorySchema)
    spec.components.schema("RoomList", schema=RoomListSchema)
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema("Stream", schema=StreamSchema)
    spec.components.schema("Read", schema=ReadSchema)
    spec.components.schema("ReadState", schema=ReadStateSchema)
    spec.components.schema("Here", schema=HereSchema)
    spec.components.schema("Typing", schema=TypingSchema)
    spec.components.header(
        "Retry-After", {"description": "Seconds to wait.", "schema": {"type": "integer"}}
    )

    # The class says "required" because an anonymous poster must name themselves; a signed-in
    # poster's name comes from the host and is not read. Generated clients must not demand it.
    new_message = spec.components.schemas["NewMessage"]
    new_message["required"] = [name for name in new_message["required"] if name != "username"]
    new_message["properties"]["username"]["description"] = (
        "Required when posting anonymously (no signed-in user: 422 without it); ignored for a"
        " signed-in author, whose name the host supplies. 1 to 64 characters once stripped."
    )

    for scoped in (False, True):
        prefix = "/rooms/{room}" if scoped else ""
        for path, operations in _room_operations(scoped).items():
            spec.path(prefix + path, operations=operations)
    spec.path(
        "/rooms",
        operations={
            "get": {
                **_operation(
                    "listRooms",
                    "A page of the rooms the reader may read: size, last activity, unread count.",
                    {200: _json("The rooms, by name, and the next page's `after`.", "RoomList")},
                    [ValidationFailed, DatabaseUnavailable],
                ),
                "parameters": [{"in": "query", "schema": RoomListArgsSchema}],
            }
        },
    )
    spec.path(
        "/openapi.json",
        operations={
            "get": _operation(
                "openapi",
                "This document.",
                {200: {"description": "OpenAPI 3.", "content": {"application/json": {}}}},
                [],
            )
        },
    )
    return spec.to_dict()
