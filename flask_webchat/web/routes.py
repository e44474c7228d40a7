"""The JSON API's routes: parse the request, call the chat's core, serialise the answer.

Every room-scoped route exists twice: under ``/rooms/<room>/`` and, for the default room
(``WEBCHAT_DEFAULT_ROOM``), at the top of the mount point, where the original chat's URLs were.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, current_app, jsonify, request, stream_with_context, url_for
from sqlalchemy.exc import SQLAlchemyError

from .. import history, messages, rooms, waiting
from ..batches import Batch
from ..errors import WebchatError
from ..identity import Viewer
from ..schemas import (
    Cursor,
    EventsArgsSchema,
    HistoryArgsSchema,
    HistorySchema,
    MessageSchema,
    PollArgsSchema,
    PollSchema,
    RoomListSchema,
    load,
)
from ..state import WebchatState, get_state
from ..streams import Reader
from . import grip
from .openapi import build_spec
from .requests import json_body
from .session import current_viewer, enter_room
from .sse import encode_stream

# Schemas that depend on nothing per request, built once (they keep no state between calls).
_POLL_ARGS = PollArgsSchema()
_EVENTS_ARGS = EventsArgsSchema()
_HISTORY_ARGS = HistoryArgsSchema()
_EMPTY_POLL = PollSchema()
_ROOM_LIST = RoomListSchema()
_LAST_EVENT_ID = Cursor()


def poll_messages(room: str | None) -> Response:
    """Every event since the reader's cursor: from ``after``, a stream, or the session.

    With ``wait``, a long-poll: the answer comes as soon as there is an event for this reader,
    or empty when the wait is over.
    """
    state = get_state()
    settings = state.settings
    args = load(_POLL_ARGS, request.args)
    name, viewer = enter_room(room)
    viewer, reader = _reader(state, name, viewer, args)
    wait = min(args.get("wait", 0.0), settings.max_wait)
    if wait and grip.through_edge(state) and grip.may_hold(viewer):
        # Through the edge, a long-poll reads now, and Pushpin does the waiting.
        batch = reader.read(args.get("after"))
        if batch.empty:
            return grip.hold_poll(state, name, _EMPTY_POLL.dump(batch), wait)
        return jsonify(PollSchema(viewer=viewer).dump(batch))
    batch = waiting.wait_for_batch(
        reader,
        args.get("after"),
        notifier=state.notifier,
        timeout=min(args.get("wait", 0.0), settings.max_wait),
        fallback=settings.fallback_poll,
    )
    # Most polls are empty, and an empty answer needs no viewer: skip building schemas for it.
    schema = PollSchema(viewer=viewer) if batch.messages else _EMPTY_POLL
    return jsonify(schema.dump(batch))


def stream_events(room: str | None) -> Response:
    """The reader's events as Server-Sent Events, from the cursor in ``Last-Event-ID``."""
    state = get_state()
    settings = state.settings
    edge = grip.through_edge(state)
    if edge and "grip" in request.args:
        return grip.recover_stream(state, rooms.require_room(room, settings), request.args["grip"])
    args = load(_EVENTS_ARGS, request.args)
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        args["after"] = load(_LAST_EVENT_ID, last_event_id, name="Last-Event-ID")
    name, viewer = enter_room(room)
    _, reader = _reader(state, name, viewer, {**args, "limit": settings.poll_limit})
    # The first read happens now, so that a bad stream or cursor gets its JSON error.
    first = reader.read(args.get("after"))
    if edge and grip.may_hold(viewer):
        return grip.hold_stream(state, name, replace(viewer, reader_key=reader.owner), first)

    def next_batch(cursor: int) -> Batch:
        # From here on the stream's own cursor is the truth about what this reader was sent.
        return waiting.wait_for_batch(
            reader,
            cursor,
            notifier=state.notifier,
            timeout=settings.heartbeat,
            fallback=settings.fallback_poll,
        )

    def events() -> Any:
        # Flask runs this after the request's teardown closed db.session, and with it the user
        # object the host's loader returned: load the identity again, for the permission hooks.
        viewer = current_viewer(reload=True).in_room(name)
        try:
            yield from encode_stream(
                first,
                next_batch,
                dump_message=MessageSchema(viewer=viewer).dump,
                retry_ms=int(settings.poll_interval * 1000),
            )
        except (SQLAlchemyError, WebchatError) as error:
            # Too late for an error answer: end the stream; the browser reconnects by itself.
            current_app.logger.warning("webchat: event stream ended: %s", error)

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # nginx: send each event as it comes
    return response


def message_history(room: str | None) -> Response:
    """Older messages, newest first, a page at a time; reading them moves no cursor."""
    state = get_state()
    args = load(_HISTORY_ARGS, request.args)
    name, viewer = enter_room(room)
    page = history.read_history(
        state.db.session, room_name=name, before=args.get("before"), limit=args["limit"]
    )
    return jsonify(HistorySchema(viewer=viewer).dump(page))


def list_rooms() -> Response:
    """The rooms the current reader may read, with their size and last activity."""
    state = get_state()
    viewer = current_viewer()
    listed = rooms.list_rooms(state.db.session, state.settings)
    return jsonify(_ROOM_LIST.dump({"rooms": [r for r in listed if viewer.may_read(r.name)]}))


def post_message(room: str | None) -> tuple[Response, int, dict[str, str]]:
    """Post a message as the current identity, or under the name given in the body."""
    state = get_state()
    name = rooms.require_room(room, state.settings)
    viewer = current_viewer()
    message = messages.post_message(
        state.db.session,
        room=name,
        viewer=viewer,
        body=json_body(state.settings.max_body),
        allow_anonymous=state.settings.allow_anonymous,
        notifier=state.notifier,
    )
    answer = MessageSchema(viewer=viewer.as_author().in_room(name)).dump(message)
    return jsonify(answer), 201, {"Location": url_for(".message", message_id=message.id)}


def get_message(message_id: int) -> Response:
    """One message, if it still exists (and its room may be read)."""
    state = get_state()
    message = messages.get_message(state.db.session, message_id)
    _, viewer = enter_room(rooms.room_name(state.db.session, message.room_id))
    return jsonify(MessageSchema(viewer=viewer).dump(message))


def delete_message(message_id: int) -> tuple[str, int]:
    """Delete a message the current reader wrote (or may moderate), in a room they may read."""
    state = get_state()
    messages.delete_message(
        state.db.session, message_id=message_id, viewer=current_viewer(), notifier=state.notifier
    )
    return "", 204


def openapi_document() -> Response:
    """The OpenAPI 3 document of these routes, for the mount point it was asked under."""
    state = get_state()
    mount = url_for(".chat").rstrip("/")
    document = state.openapi_documents.get(mount)
    if document is None:
        document = state.openapi_documents[mount] = build_spec(mount)
    return jsonify(document)


def _reader(
    state: WebchatState, room: str, viewer: Viewer, args: dict[str, Any]
) -> tuple[Viewer, Reader]:
    """The reader the query names: a stream, a bare cursor, or the session's default stream."""
    if "stream" not in args and "after" not in args:
        viewer = viewer.remembered()  # the session's default stream needs an owner
    limit = state.settings.poll_limit
    reader = Reader(
        session=state.db.session,
        settings=state.settings,
        room=room,
        limit=min(args.get("limit", limit), limit),
        owner=viewer.reader_key,
        token=args.get("stream"),
        shared=state.shared_reads,
    )
    return viewer, reader
