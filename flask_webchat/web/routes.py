"""The JSON API's routes: parse the request, call the chat's core, serialise the answer.

Every room-scoped route exists twice: under ``/rooms/<room>/`` and, for the default room
(``WEBCHAT_DEFAULT_ROOM``), at the top of the mount point, where the original chat's URLs were.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from flask import Response, current_app, jsonify, request, stream_with_context, url_for
from sqlalchemy.exc import SQLAlchemyError

from .. import details, editing, history, messages, reactions, rooms, streams, waiting
from ..batches import Batch
from ..errors import WebchatError
from ..identity import Viewer
from ..inbox import Inbox
from ..schemas import (
    IDEMPOTENCY_KEY,
    Cursor,
    EventsArgsSchema,
    HistoryArgsSchema,
    HistorySchema,
    MessageSchema,
    PollArgsSchema,
    PollSchema,
    RoomListArgsSchema,
    RoomListSchema,
    StreamSchema,
    dump_for,
    load,
)
from ..state import WebchatState, get_state
from ..streams import Reader
from . import grip, presence
from .openapi import build_spec
from .reading import with_unread
from .requests import json_body
from .session import current_viewer, enter_room, reload_session
from .sse import encode_stream

# Schemas that depend on nothing per request, built once (they keep no state between calls).
_POLL_ARGS = PollArgsSchema()
_EVENTS_ARGS = EventsArgsSchema()
_HISTORY_ARGS = HistoryArgsSchema()
_POLL = PollSchema()  # dumps for the viewer of seen_by
_MESSAGE = MessageSchema()
_HISTORY = HistorySchema()
_ROOM_LIST = RoomListSchema()
_ROOM_LIST_ARGS = RoomListArgsSchema()
_LAST_EVENT_ID = Cursor()
_STREAM = StreamSchema()


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
    here = presence.member(state, name, viewer, token=args.get("stream"))
    replaces = presence.replaced_guest(state, viewer, args.get("presence_id"))
    if wait and grip.through_edge(state) and grip.may_hold(viewer):
        # Through the edge, a long-poll reads now, and Pushpin does the waiting: its reader
        # counts as present for the grace period from now, as after a poll.
        if here is not None:
            presence.hub(state).touch(name, here, replaces=replaces)
        # Read as a plain poll does: after a publish, the edge's readers all ask again from
        # the cursor it brought them, and one read answers them all until the room moves.
        batch = waiting.wait_for_batch(
            reader,
            args.get("after"),
            notifier=state.notifier,
            timeout=0,
            fallback=settings.fallback_poll,
        )
        if batch.empty:
            # A full-sized poll from a bare cursor reads nothing but the room: Pushpin can
            # answer it with the publish.
            answered = (
                reader.token is None
                and "after" in args
                and reader.limit == settings.poll_limit
                and not args.get("presence")
            )
            # What Pushpin answers when the wait ends: this empty answer, presence as of now.
            empty = _poll_body(state, name, viewer, _POLL.dump(batch), args)
            return grip.hold_poll(state, name, viewer, batch, empty, wait, answered=answered)
        answer = dump_for(viewer, _POLL, batch)
        return jsonify(_poll_body(state, name, viewer, answer, args))
    # A long-poll holds its reader present while it waits, and for the grace period after;
    # one that asked for presence also answers when the room's presence changes.
    hub = presence.hub(state)
    held = hub.hold(name, here, replaces=replaces) if here is not None and wait else None
    asked = args.get("presence", False) and wait and presence.may_see(state, name, viewer)
    inbox = hub.subscribe(name, "", presence=True, typing=False) if asked else None
    try:
        if here is not None and not wait:
            hub.touch(name, here, replaces=replaces)
        batch = waiting.wait_for_batch(
            reader,
            args.get("after"),
            notifier=state.notifier,
            timeout=wait,
            fallback=settings.fallback_poll,
            pending=inbox.pending if inbox is not None else None,
        )
    finally:
        if inbox is not None:
            hub.unsubscribe(inbox)
        if held is not None:
            hub.release(held)
    answer = dump_for(viewer, _POLL, batch)
    return jsonify(_poll_body(state, name, viewer, answer, args))


def _poll_body(
    state: WebchatState, room: str, viewer: Viewer, answer: Any, args: dict[str, Any]
) -> Any:
    """A poll's answer, with the room's ``presence`` if asked and the host lets it be seen."""
    here = presence.poll_field(state, room, viewer) if args.get("presence") else None
    return answer if here is None else {**answer, "presence": here}


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
    seat = presence.connection_member(state, name, viewer, args.get("presence_id"))
    if edge and grip.may_hold(viewer):
        # Pushpin holds the stream, not this process: its reader counts as present for the
        # grace period from each (re)connection, and gets no presence or typing events.
        if seat.member is not None:
            presence.hub(state).touch(name, seat.member, replaces=seat.replaces)
        return grip.hold_stream(state, name, replace(viewer, reader_key=reader.owner), first)

    sees = presence.may_see(state, name, viewer)
    retry_ms = int(settings.poll_interval * 1000)

    def events() -> Any:
        # Flask runs this after the request's teardown closed db.session, and with it the user
        # object the host's loader returned: load the identity again, for the permission hooks.
        schema = MessageSchema(viewer=current_viewer(reload=True).in_room(name))
        with _Feed(state, name, reader, seat, sees=sees) as feed:
            try:
                yield from encode_stream(first, feed, schema=schema, retry_ms=retry_ms)
            except (SQLAlchemyError, WebchatError) as error:
                # Too late for an error answer: end the stream; the browser reconnects by itself.
                current_app.logger.warning("webchat: event stream ended: %s", error)

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # nginx: send each event as it comes
    return response


class _Feed:
    """An open event stream, as :func:`~.sse.encode_stream` asks it (an :class:`.sse.Feed`).

    While it is entered, the reader counts as present in the room, and the room's presence and
    typing events, if the reader may see them, wait in its inbox.
    """

    def __init__(
        self, state: WebchatState, room: str, reader: Reader, seat: presence.Seat, *, sees: bool
    ) -> None:
        self.room, self.seat, self.here, self.sees = room, seat, seat.member, sees
        self.hub, self.heartbeat = presence.hub(state), state.settings.heartbeat
        fallback = state.settings.fallback_poll
        self.waiter = waiting.Waiter(
            reader, notifier=state.notifier, fallback=fallback, pending=self.pending
        )
        self.inbox: Inbox | None = None
        self.held: int | None = None
        self.checked_at = time.monotonic()

    def __enter__(self) -> _Feed:
        if self.here is not None:
            self.held = self.hub.hold(self.room, self.here, replaces=self.seat.replaces)
        key = self.here.key if self.here is not None else ""
        self.inbox = self.hub.subscribe(self.room, key, presence=True) if self.sees else None
        return self

    def __exit__(self, *exception: object) -> None:
        if self.inbox is not None:
            self.hub.unsubscribe(self.inbox)
        if self.held is not None:
            self.hub.release(self.held, linger=self.seat.lingers)

    def next_batch(self, cursor: int) -> Batch:
        # From here on the stream's own cursor is the truth about what this reader was sent.
        return self.waiter.next_batch(cursor, self.heartbeat)

    def allowed(self) -> bool:
        # Access can end while the stream is open (a logout, a hook's answer changing): ask
        # again, with the session as the store has it now, once per heartbeat interval.
        if time.monotonic() - self.checked_at < self.heartbeat:
            return True
        self.checked_at = time.monotonic()
        reload_session()
        return current_viewer(reload=True).may_read(self.room)

    def ephemeral(self) -> list[tuple[str, dict[str, Any]]]:
        return self.inbox.take() if self.inbox is not None else []

    def pending(self) -> bool:
        return self.inbox is not None and self.inbox.pending()


def open_stream(room: str | None) -> tuple[Response, int, dict[str, str]]:
    """Open a reader stream for one tab or client, as a load of the chat page does."""
    state = get_state()
    name, viewer = enter_room(room)
    viewer = viewer.remembered()  # a stream belongs to this browser session
    assert viewer.reader_key is not None
    # An explicit write: in a room nobody posted to, it creates the room (counted as a write
    # by the rate limit, see web/ratelimit.py) and answers cursor 0.
    opened = streams.open_stream_with_cursor(
        state.session, state.settings, owner=viewer.reader_key, room=name, create=True
    )
    assert opened is not None
    in_room: dict[str, Any] = {"room": room if room != state.settings.default_room else None}
    location = url_for(".poll", stream=opened.token, **in_room)
    return jsonify(_STREAM.dump(opened)), 201, {"Location": location}


def message_history(room: str | None) -> Response:
    """Older messages, newest first, a page at a time; reading them moves no cursor."""
    state = get_state()
    args = load(_HISTORY_ARGS, request.args)
    name, viewer = enter_room(room)
    page = history.read_history(
        state.session, room_name=name, before=args.get("before"), limit=args["limit"]
    )
    details.attach(state.session, page.messages)  # history shows each message as it is now
    return jsonify(dump_for(viewer, _HISTORY, page))


def list_rooms() -> Response:
    """A page of the rooms the current reader may read: size, last activity, unread count."""
    state = get_state()
    args = load(_ROOM_LIST_ARGS, request.args)
    viewer = current_viewer()
    listed, following = rooms.list_rooms(
        state.session, state.settings, after=args.get("after"), limit=args["limit"]
    )
    readable = with_unread(viewer, (room for room in listed if viewer.may_read(room.name)))
    return jsonify(_ROOM_LIST.dump({"rooms": readable, "next": following}))


def post_message(room: str | None) -> tuple[Response, int, dict[str, str]]:
    """Post a message as the current identity, or under the name given in the body.

    With an ``Idempotency-Key``, a repeat of the same post answers with the message the first
    one stored, so a client may retry a post whose answer it never got.
    """
    state = get_state()
    name = rooms.require_room(room, state.settings)
    viewer = current_viewer()
    key = request.headers.get("Idempotency-Key")
    message = messages.post_message(
        state.write_context(),
        room=name,
        viewer=viewer,
        body=json_body(state.settings.max_body),
        idempotency_key=None if key is None else load(IDEMPOTENCY_KEY, key, name="Idempotency-Key"),
    )
    presence.stopped_typing(state, name, viewer.as_author(), message.username)
    answer = dump_for(viewer.as_author().in_room(name), _MESSAGE, message)
    # The message's URL under the URL it was posted to: a REST client builds the same one.
    location = url_for(".message", message_id=message.id, room=room)
    return jsonify(answer), 201, {"Location": location}


def get_message(message_id: int, room: str | None = None) -> Response:
    """One message, if it still exists (and its room may be read).

    At the top, a message of any room; under ``/rooms/<room>``, only one of that room.
    """
    state = get_state()
    if room is not None:
        rooms.require_room(room, state.settings)
    viewer = current_viewer()
    message, name = messages.read_message(state.session, message_id, viewer, room=room)
    return jsonify(dump_for(viewer.in_room(name), _MESSAGE, message))


def delete_message(message_id: int, room: str | None = None) -> tuple[str, int]:
    """Delete a message the current reader wrote (or may moderate), in a room they may read."""
    state = get_state()
    if room is not None:
        rooms.require_room(room, state.settings)
    messages.delete_message(
        state.write_context(), message_id=message_id, viewer=current_viewer(), room=room
    )
    return "", 204


def edit_message(message_id: int, room: str | None = None) -> Response:
    """Replace the content of a message the current reader may edit; answer it as edited."""
    state = get_state()
    if room is not None:
        rooms.require_room(room, state.settings)
    viewer = current_viewer()
    edited = editing.edit_message(
        state.write_context(),
        message_id=message_id,
        viewer=viewer,
        body=json_body(state.settings.max_body),
        room=room,
    )
    name = rooms.room_name(state.session, edited.room_id)
    return jsonify(dump_for(viewer.in_room(name), _MESSAGE, edited))


def add_reaction(message_id: int, emoji: str, room: str | None = None) -> Response:
    """Add the current reader's reaction to a message (again: nothing changes)."""
    return _react(message_id, emoji, room, add=True)


def remove_reaction(message_id: int, emoji: str, room: str | None = None) -> Response:
    """Remove the current reader's reaction from a message (absent: nothing changes)."""
    return _react(message_id, emoji, room, add=False)


def _react(message_id: int, emoji: str, room: str | None, *, add: bool) -> Response:
    state = get_state()
    if room is not None:
        rooms.require_room(room, state.settings)
    viewer = current_viewer()
    if viewer.identity is None:
        viewer = viewer.as_author()  # an anonymous reader reacts as their browser session
    message = reactions.react(
        state.write_context(), message_id=message_id, emoji=emoji, viewer=viewer, add=add, room=room
    )
    name = rooms.room_name(state.session, message.room_id)
    return jsonify(dump_for(viewer.in_room(name), _MESSAGE, message))


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
    """The reader the query names: a stream, a bare cursor, or the session's default stream.

    A browser the chat has no reader key for, naming neither, reads the backlog statelessly:
    the chat writes nothing for it until there is something to remember (a post, a stream).
    """
    limit = state.settings.poll_limit
    reader = Reader(
        session=state.session,
        settings=state.settings,
        room=room,
        limit=min(args.get("limit", limit), limit),
        owner=viewer.reader_key,
        token=args.get("stream"),
        shared=state.shared_reads,
    )
    return viewer, reader
