"""The blueprint's routes: parse the request, call a service, serialise the answer.

Every room-scoped route exists twice: under ``/rooms/<room>/`` and, for the default room
(``WEBCHAT_DEFAULT_ROOM``), at the top of the mount point, where the original chat's URLs were.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from . import history, messages, rooms, streams, waiting
from .batches import Batch
from .errors import (
    Forbidden,
    WebchatError,
    handle_http_exception,
    handle_unexpected,
    handle_webchat_error,
)
from .handling import json_body, json_routing_errors, load, load_field, no_store, read_only_head
from .identity import Viewer
from .models import CONTENT_MAX_LENGTH
from .openapi import build_spec
from .schemas import (
    Cursor,
    EventsArgsSchema,
    HistoryArgsSchema,
    HistorySchema,
    MessageSchema,
    NewMessageSchema,
    PollArgsSchema,
    PollSchema,
    RoomListSchema,
)
from .security import add_security_headers, refuse_cross_site_writes
from .sse import encode_stream
from .state import WebchatState, get_state
from .streams import StreamPolicy

_MESSAGE_URL = "/messages/<int:message_id>"
# Schemas that depend on nothing per request, built once (they keep no state between calls).
_POLL_ARGS = PollArgsSchema()
_EVENTS_ARGS = EventsArgsSchema()
_HISTORY_ARGS = HistoryArgsSchema()
_EMPTY_POLL = PollSchema()
_ROOM_LIST = RoomListSchema()
_LAST_EVENT_ID = Cursor()


def create_blueprint(name: str = "webchat") -> Blueprint:
    """Build the chat's blueprint (one per :class:`~flask_webchat.Webchat`)."""
    bp = Blueprint(
        name,
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    room_routes: list[tuple[str, str, Callable[..., Any], str]] = [
        ("/", "chat", chat_page, "GET"),
        ("/messages", "poll", poll_messages, "GET"),
        ("/messages", "post", post_message, "POST"),
        ("/messages/history", "history", message_history, "GET"),
        ("/events", "events", stream_events, "GET"),
    ]
    for path, endpoint, view, method in room_routes:
        bp.add_url_rule(path, endpoint, view, methods=[method], defaults={"room": None})
        bp.add_url_rule(f"/rooms/<room>{path}", endpoint, view, methods=[method])
    bp.add_url_rule("/rooms", "rooms", list_rooms, methods=["GET"])
    bp.add_url_rule(_MESSAGE_URL, "message", get_message, methods=["GET"])
    bp.add_url_rule(_MESSAGE_URL, "delete", delete_message, methods=["DELETE"])
    bp.add_url_rule("/openapi.json", "openapi", openapi_document, methods=["GET"])
    bp.register_error_handler(WebchatError, handle_webchat_error)
    bp.register_error_handler(HTTPException, handle_http_exception)
    bp.register_error_handler(Exception, handle_unexpected)
    bp.before_app_request(json_routing_errors)
    bp.before_request(read_only_head)
    bp.before_request(refuse_cross_site_writes)
    bp.after_request(no_store)
    bp.after_request(add_security_headers)
    return bp


def chat_page(room: str | None) -> Response:
    """The chat page of a room; every load opens a new reader stream for that tab."""
    assert request.blueprint is not None
    context = widget_context(request.blueprint, room)
    return make_response(render_template("webchat/chat.html", webchat=context))


def render_widget(room: str | None = None) -> Markup:
    """The chat, ready to drop into a host's own page: ``{{ webchat_widget() }}``.

    ``room`` names the room (``{{ webchat_widget("support") }}``); by default, the default
    room. Like a load of the chat page, each call opens a reader stream for that page, which
    commits ``db.session``: render it after the view's own changes are committed. The widget
    brings its style sheet and script; under a Content-Security-Policy they are same-origin files.
    """
    state = get_state()
    if not state.blueprint_names:
        raise RuntimeError("webchat_widget() needs the chat's blueprint to be registered.")
    context = widget_context(state.blueprint_names[0], room)
    return Markup(render_template("webchat/widget.html", webchat=context))


def widget_context(blueprint_name: str, room: str | None = None) -> dict[str, Any]:
    """What the widget template needs, with a new stream for the page being rendered."""
    state = get_state()
    name, viewer = _enter(state, room, state.extension.current_viewer().with_reader_key())
    assert viewer.reader_key is not None
    token = streams.open_stream(
        state.db.session, owner=viewer.reader_key, room_name=name, policy=_stream_policy(state)
    )
    in_room = {"room": room if room != state.settings.default_room else None}
    return {
        "room": name,
        "rooms": _switcher(state, viewer, blueprint_name, current=name),
        "stream": token,
        "messages_url": url_for(f"{blueprint_name}.poll", **in_room),
        "events_url": url_for(f"{blueprint_name}.events", **in_room),
        "history_url": url_for(f"{blueprint_name}.history", **in_room),
        "transport": state.settings.transport,
        "max_wait": state.settings.max_wait,
        "static_endpoint": f"{blueprint_name}.static",
        "identity_name": viewer.identity.name if viewer.identity else None,
        "allow_anonymous": state.settings.allow_anonymous,
        "may_post": viewer.may_post(name),
        "poll_interval": state.settings.poll_interval,
        "max_length": CONTENT_MAX_LENGTH,
    }


def poll_messages(room: str | None) -> Response:
    """Every event since the reader's cursor: from ``after``, a stream, or the session.

    With ``wait``, a long-poll: the answer comes as soon as there is an event for this reader,
    or empty when the wait is over.
    """
    state = get_state()
    settings = state.settings
    args = load(_POLL_ARGS, request.args)
    limit = min(args.get("limit", settings.poll_limit), settings.poll_limit)
    name, viewer, read = _reader(state, room, args, limit=limit)
    batch = waiting.wait_for_batch(
        partial(read, args.get("after")),
        room=name,
        session=state.db.session,
        notifier=state.notifier,
        timeout=min(args.get("wait", 0.0), settings.max_wait),
        fallback=settings.fallback_poll,
    )
    # Most polls are empty, and an empty answer needs no viewer: skip building schemas for it.
    schema = PollSchema(viewer=viewer.in_room(name)) if batch.messages else _EMPTY_POLL
    return jsonify(schema.dump(batch))


def stream_events(room: str | None) -> Response:
    """The reader's events as Server-Sent Events, from the cursor in ``Last-Event-ID``."""
    state = get_state()
    settings = state.settings
    args = load(_EVENTS_ARGS, request.args)
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        args["after"] = load_field(_LAST_EVENT_ID, last_event_id, "Last-Event-ID")
    name, _, read = _reader(state, room, args, limit=settings.poll_limit)
    # The first read happens now, so that a bad stream or cursor gets its JSON error.
    first = read(args.get("after"), None)

    def next_batch(cursor: int) -> Batch:
        # From here on the stream's own cursor is the truth about what this reader was sent.
        return waiting.wait_for_batch(
            partial(read, cursor),
            room=name,
            session=state.db.session,
            notifier=state.notifier,
            timeout=settings.heartbeat,
            fallback=settings.fallback_poll,
        )

    def events() -> Any:
        # Flask runs this after the request's teardown closed db.session, and with it the user
        # object the host's loader returned: load the identity again, for the permission hooks.
        viewer = state.extension.current_viewer(reload=True).in_room(name)
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
    name, viewer = _enter(state, room, state.extension.current_viewer())
    page = history.read_history(
        state.db.session, room_name=name, before=args.get("before"), limit=args["limit"]
    )
    return jsonify(HistorySchema(viewer=viewer.in_room(name)).dump(page))


def list_rooms() -> Response:
    """The rooms the current reader may read, with their size and last activity."""
    state = get_state()
    viewer = state.extension.current_viewer()
    listed = rooms.list_rooms(
        state.db.session, _room_names(state), default=state.settings.default_room
    )
    readable = [room for room in listed if viewer.may_read(room.name)]
    return jsonify(_ROOM_LIST.dump({"rooms": readable}))


def post_message(room: str | None) -> tuple[Response, int, dict[str, str]]:
    """Post a message as the current identity, or under the name given in the body."""
    state = get_state()
    viewer = state.extension.current_viewer()
    messages.require_poster(viewer, allow_anonymous=state.settings.allow_anonymous)
    name, viewer = _enter(state, room, viewer, posting=True)
    body = json_body(state.settings.max_body)
    data = load(NewMessageSchema(anonymous=viewer.identity is None), body)
    if viewer.identity is None:
        viewer = viewer.with_reader_key()  # only now: a refused post leaves no session behind
    message = messages.post_message(
        state.db.session, room_name=name, viewer=viewer, data=data, notifier=state.notifier
    )
    location = url_for(".message", message_id=message.id)
    answer = MessageSchema(viewer=viewer.in_room(name)).dump(message)
    return jsonify(answer), 201, {"Location": location}


def get_message(message_id: int) -> Response:
    """One message, if it still exists (and its room may be read)."""
    state = get_state()
    message = messages.get_message(state.db.session, message_id)
    name = rooms.room_name(state.db.session, message.room_id)
    _, viewer = _enter(state, name, state.extension.current_viewer())
    return jsonify(MessageSchema(viewer=viewer.in_room(name)).dump(message))


def delete_message(message_id: int) -> tuple[str, int]:
    """Delete a message the current reader wrote (or may moderate), in a room they may read."""
    state = get_state()
    viewer = state.extension.current_viewer()
    messages.delete_message(
        state.db.session, message_id=message_id, viewer=viewer, notifier=state.notifier
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


def _enter(
    state: WebchatState, room: str | None, viewer: Viewer, *, posting: bool = False
) -> tuple[str, Viewer]:
    """The room's name, once the room may exist and the viewer may read (or post to) it."""
    name = (
        state.settings.default_room
        if room is None
        else rooms.require_room(room, state.settings.rooms)
    )
    if not viewer.may_read(name):
        raise Forbidden("You may not read this room.")
    if posting and not viewer.may_post(name):
        raise Forbidden("You may not post to this room.")
    return name, viewer


def _reader(
    state: WebchatState, room: str | None, args: dict[str, Any], *, limit: int
) -> tuple[str, Viewer, Callable[[int | None, int | None], Batch]]:
    """The room, the viewer, and ``read(after, known)`` for the reader the arguments name."""
    name, viewer = _enter(state, room, state.extension.current_viewer())
    if "stream" not in args and "after" not in args:
        viewer = viewer.with_reader_key()  # the session's default stream needs an owner
    read = partial(
        streams.read_events,
        state.db.session,
        owner=viewer.reader_key,
        token=args.get("stream"),
        room_name=name,
        limit=limit,
        policy=_stream_policy(state),
        shared=state.shared_reads,
    )
    return name, viewer, lambda after, known: read(after=after, known=known)


def _room_names(state: WebchatState) -> list[str] | None:
    # A fixed list names every room; otherwise the rooms are those that exist, and the default.
    configured = state.settings.rooms
    if isinstance(configured, tuple):
        return list(configured)
    return None


def _switcher(
    state: WebchatState, viewer: Viewer, blueprint_name: str, *, current: str
) -> list[dict[str, Any]]:
    """Links to the other rooms for the page's room switcher: only with a fixed list of rooms."""
    names = _room_names(state)
    if not names or len(names) < 2:
        return []
    default = state.settings.default_room
    return [
        {
            "name": name,
            "url": url_for(f"{blueprint_name}.chat", room=None if name == default else name),
            "current": name == current,
        }
        for name in names
        if viewer.may_read(name)
    ]


def _stream_policy(state: WebchatState) -> StreamPolicy:
    settings = state.settings
    return StreamPolicy(settings.backlog, settings.max_streams, settings.stream_ttl)
