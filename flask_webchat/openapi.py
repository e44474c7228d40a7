"""The OpenAPI 3 document of the chat's HTTP API, generated from the marshmallow schemas.

Served at ``<prefix>/openapi.json``. Bodies and answers come from :mod:`flask_webchat.schemas`,
so the document cannot describe a field the views do not send; what each route may answer is
listed here, next to the statuses the views raise, and a test checks real answers against it.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .schemas import (
    Cursor,
    DeletionSchema,
    ErrorSchema,
    EventsArgsSchema,
    HistoryArgsSchema,
    HistorySchema,
    MessageSchema,
    NewMessageSchema,
    PollArgsSchema,
    PollSchema,
    RoomListSchema,
    UTCDateTime,
)

_ERRORS = {
    400: "The body is not valid JSON (`malformed_json`).",
    403: "Not allowed: `forbidden` (this room, this message), `identity_required` or"
    " `cross_site_request`.",
    404: "No such message (`not_found`), stream (`unknown_stream`) or room (`unknown_room`).",
    413: "The body is larger than WEBCHAT_MAX_BODY (`body_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    422: "Invalid fields or parameters (`invalid_fields`); `fields` says which and why.",
    429: "Too many posts and deletes (`rate_limited`); retry after `Retry-After`.",
    503: "The database is unavailable (`database_unavailable`); retry after `Retry-After`.",
}
_ROOM = {
    "name": "room",
    "in": "path",
    "required": True,
    "description": "1 to 64 lowercase letters, digits, `-` or `_`.",
    "schema": {"type": "string"},
}
_MESSAGE_ID = {
    "name": "message_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def build_spec(server_url: str) -> dict[str, Any]:
    """The document for the blueprint mounted at ``server_url`` (e.g. ``/chat``)."""
    from . import __version__  # the package imports this module while it initialises

    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="flask-webchat",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        servers=[{"url": server_url.rstrip("/") or "/"}],
        info={
            "description": (
                "A chat room's messages: read from a cursor, post, delete. Every error, including"
                " 405 for a method a path does not allow (with an `Allow` header), has the"
                " `Error` shape."
            )
        },
    )
    plugin.map_to_openapi_type(Cursor, "string", None)
    plugin.map_to_openapi_type(UTCDateTime, "string", "date-time")
    spec.components.schema("Message", schema=MessageSchema)
    spec.components.schema("NewMessage", schema=NewMessageSchema)
    spec.components.schema("Poll", schema=PollSchema)
    spec.components.schema("Deletion", schema=DeletionSchema)
    spec.components.schema("History", schema=HistorySchema)
    spec.components.schema("RoomList", schema=RoomListSchema)
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.header(
        "Retry-After", {"description": "Seconds to wait.", "schema": {"type": "integer"}}
    )

    for scoped in (False, True):
        prefix = "/rooms/{room}" if scoped else ""
        for path, operations in _room_operations(scoped).items():
            spec.path(prefix + path, operations=operations)
    spec.path(
        "/rooms",
        operations={
            "get": _operation(
                "listRooms",
                "The rooms the reader may read, with their size and last activity.",
                {200: _json("The rooms, by name.", "RoomList")},
                [503],
            )
        },
    )
    spec.path(
        "/messages/{message_id}",
        operations={
            "get": {
                **_operation(
                    "getMessage",
                    "One message, if it still exists.",
                    {200: _json("The message.", "Message")},
                    [404, 503],
                ),
                "parameters": [_MESSAGE_ID],
            },
            "delete": {
                **_operation(
                    "deleteMessage",
                    "Delete a message the reader wrote, or may moderate.",
                    {204: {"description": "Deleted; every reader's next poll lists its id."}},
                    [403, 404, 429, 503],
                ),
                "parameters": [_MESSAGE_ID],
            },
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


def _room_operations(scoped: bool) -> dict[str, dict[str, Any]]:
    """The operations on one room, by path: of the default room, or under ``/rooms/{room}``."""
    room = " of the room" if scoped else " of the default room"
    parameters = [_ROOM] if scoped else []
    errors = [403, 404] if scoped else [403]

    def named(operation_id: str) -> str:
        return f"room{operation_id[0].upper()}{operation_id[1:]}" if scoped else operation_id

    return {
        "/": {
            "get": {
                **_operation(
                    named("chatPage"),
                    f"The chat page{room}; each load opens a reader stream for the tab.",
                    {200: {"description": "The page.", "content": {"text/html": {"schema": {}}}}},
                    [*errors, 503],
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
                    [403, 404, 422, 503],
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
                    [400, 403, *([404] if scoped else []), 413, 415, 422, 429, 503],
                ),
                "parameters": [*parameters],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "NewMessage"}},
                },
            },
        },
        "/messages/history": {
            "get": {
                **_operation(
                    named("messageHistory"),
                    f"Older messages{room}, newest first, a page at a time; moves no cursor.",
                    {200: _json("A page, and the cursor of the next one.", "History")},
                    [*errors, 422, 503],
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
                                " cursor), `event:` (`message`, data a `Message`; or `delete`,"
                                " data a `Deletion`) and one line of JSON `data:`. A comment"
                                " line comes every WEBCHAT_HEARTBEAT seconds of silence."
                            ),
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        }
                    },
                    [403, 404, 422, 503],
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


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    operation_id: str,
    summary: str,
    answers: dict[int, dict[str, Any]],
    errors: list[int],
) -> dict[str, Any]:
    responses: dict[int, dict[str, Any]] = dict(answers)
    for status in errors:
        responses[status] = _json(_ERRORS[status], "Error")
        if status in (429, 503):
            responses[status]["headers"] = {"Retry-After": "Retry-After"}
    return {"operationId": operation_id, "summary": summary, "responses": responses}
