"""The blueprint's routes: parse the request, call a service, serialise the answer."""

from __future__ import annotations

import json
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
from marshmallow import Schema, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from . import messages, streams, waiting
from .errors import (
    BodyTooLarge,
    ValidationFailed,
    WebchatError,
    handle_http_exception,
    handle_unexpected,
    handle_webchat_error,
)
from .identity import Viewer
from .models import CONTENT_MAX_LENGTH
from .openapi import build_spec
from .schemas import (
    Cursor,
    EventsArgsSchema,
    MessageSchema,
    NewMessageSchema,
    PollArgsSchema,
    PollSchema,
)
from .security import add_security_headers, refuse_cross_site_writes
from .sse import encode_stream
from .state import WebchatState, get_state
from .streams import Batch, StreamPolicy

_MESSAGE_URL = "/messages/<int:message_id>"
# Schemas that depend on nothing per request, built once (they keep no state between calls).
_POLL_ARGS = PollArgsSchema()
_EVENTS_ARGS = EventsArgsSchema()
_EMPTY_POLL = PollSchema()
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
    bp.add_url_rule("/", "chat", chat_page, methods=["GET"])
    bp.add_url_rule("/messages", "poll", poll_messages, methods=["GET"])
    bp.add_url_rule("/messages", "post", post_message, methods=["POST"])
    bp.add_url_rule(_MESSAGE_URL, "message", get_message, methods=["GET"])
    bp.add_url_rule(_MESSAGE_URL, "delete", delete_message, methods=["DELETE"])
    bp.add_url_rule("/events", "events", stream_events, methods=["GET"])
    bp.add_url_rule("/openapi.json", "openapi", openapi_document, methods=["GET"])
    bp.register_error_handler(WebchatError, handle_webchat_error)
    bp.register_error_handler(HTTPException, handle_http_exception)
    bp.register_error_handler(Exception, handle_unexpected)
    bp.before_app_request(_json_routing_errors)
    bp.before_request(_read_only_head)
    bp.before_request(refuse_cross_site_writes)
    bp.after_request(_no_store)
    bp.after_request(add_security_headers)
    return bp


def chat_page() -> Response:
    """The chat page; every load opens a new reader stream for that tab."""
    assert request.blueprint is not None
    context = widget_context(request.blueprint)
    return make_response(render_template("webchat/chat.html", webchat=context))


def render_widget() -> Markup:
    """The chat, ready to drop into a host's own page: ``{{ webchat_widget() }}``.

    Like a load of the chat page, each call opens a reader stream for that page, which commits
    ``db.session``: render it after the view's own changes are committed. The widget brings its
    style sheet and script; under a Content-Security-Policy they are same-origin files.
    """
    state = get_state()
    if not state.blueprint_names:
        raise RuntimeError("webchat_widget() needs the chat's blueprint to be registered.")
    context = widget_context(state.blueprint_names[0])
    return Markup(render_template("webchat/widget.html", webchat=context))


def widget_context(blueprint_name: str) -> dict[str, Any]:
    """What the widget template needs, with a new stream for the page being rendered."""
    state = get_state()
    viewer = state.extension.current_viewer().with_reader_key()
    assert viewer.reader_key is not None
    token = streams.open_stream(
        state.db.session,
        owner=viewer.reader_key,
        room_name=state.settings.default_room,
        policy=_stream_policy(state),
    )
    return {
        "stream": token,
        "messages_url": url_for(f"{blueprint_name}.poll"),
        "events_url": url_for(f"{blueprint_name}.events"),
        "transport": state.settings.transport,
        "max_wait": state.settings.max_wait,
        "static_endpoint": f"{blueprint_name}.static",
        "identity_name": viewer.identity.name if viewer.identity else None,
        "allow_anonymous": state.settings.allow_anonymous,
        "poll_interval": state.settings.poll_interval,
        "max_length": CONTENT_MAX_LENGTH,
    }


def poll_messages() -> Response:
    """Every event since the reader's cursor: from ``after``, a stream, or the session.

    With ``wait``, a long-poll: the answer comes as soon as there is an event for this reader,
    or empty when the wait is over.
    """
    state = get_state()
    settings = state.settings
    args = _load(_POLL_ARGS, request.args)
    limit = min(args.get("limit", settings.poll_limit), settings.poll_limit)
    viewer, read = _reader(state, args, limit=limit)
    batch = waiting.wait_for_batch(
        partial(read, args.get("after")),
        room=settings.default_room,
        session=state.db.session,
        notifier=state.notifier,
        timeout=min(args.get("wait", 0.0), settings.max_wait),
        fallback=settings.fallback_poll,
    )
    # Most polls are empty, and an empty answer needs no viewer: skip building schemas for it.
    schema = PollSchema(viewer=viewer) if batch.messages else _EMPTY_POLL
    return jsonify(schema.dump(batch))


def stream_events() -> Response:
    """The reader's events as Server-Sent Events, from the cursor in ``Last-Event-ID``."""
    state = get_state()
    settings = state.settings
    args = _load(_EVENTS_ARGS, request.args)
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        args["after"] = _load_field(_LAST_EVENT_ID, last_event_id, "Last-Event-ID")
    _, read = _reader(state, args, limit=settings.poll_limit)
    # The first read happens now, so that a bad stream or cursor gets its JSON error.
    first = read(args.get("after"))

    def next_batch(cursor: int) -> Batch:
        # From here on the stream's own cursor is the truth about what this reader was sent.
        return waiting.wait_for_batch(
            partial(read, cursor),
            room=settings.default_room,
            session=state.db.session,
            notifier=state.notifier,
            timeout=settings.heartbeat,
            fallback=settings.fallback_poll,
        )

    def events() -> Any:
        # Flask runs this after the request's teardown closed db.session, and with it the user
        # object the host's loader returned: load the identity again, for the permission hook.
        schema = MessageSchema(viewer=state.extension.current_viewer(reload=True))
        try:
            yield from encode_stream(
                first,
                next_batch,
                dump_message=schema.dump,
                retry_ms=int(settings.poll_interval * 1000),
            )
        except (SQLAlchemyError, WebchatError) as error:
            # Too late for an error answer: end the stream; the browser reconnects by itself.
            current_app.logger.warning("webchat: event stream ended: %s", error)

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # nginx: send each event as it comes
    return response


def _reader(
    state: WebchatState, args: dict[str, Any], *, limit: int
) -> tuple[Viewer, Callable[[int | None], Batch]]:
    """The viewer, and ``read(after)`` for the reader that the request's arguments name."""
    viewer = state.extension.current_viewer()
    if "stream" not in args and "after" not in args:
        viewer = viewer.with_reader_key()  # the session's default stream needs an owner
    read = partial(
        streams.read_events,
        state.db.session,
        owner=viewer.reader_key,
        token=args.get("stream"),
        room_name=state.settings.default_room,
        limit=limit,
        policy=_stream_policy(state),
    )
    return viewer, lambda after: read(after=after)


def post_message() -> tuple[Response, int, dict[str, str]]:
    """Post a message as the current identity, or under the name given in the body."""
    state = get_state()
    viewer = state.extension.current_viewer()
    messages.require_poster(viewer, allow_anonymous=state.settings.allow_anonymous)
    body = _json_body(state.settings.max_body)
    data = _load(NewMessageSchema(anonymous=viewer.identity is None), body)
    if viewer.identity is None:
        viewer = viewer.with_reader_key()  # only now: a refused post leaves no session behind
    message = messages.post_message(
        state.db.session,
        room_name=state.settings.default_room,
        viewer=viewer,
        data=data,
        notifier=state.notifier,
    )
    location = url_for(".message", message_id=message.id)
    return jsonify(MessageSchema(viewer=viewer).dump(message)), 201, {"Location": location}


def get_message(message_id: int) -> Response:
    """One message, if it still exists."""
    state = get_state()
    message = messages.get_message(state.db.session, message_id)
    return jsonify(MessageSchema(viewer=state.extension.current_viewer()).dump(message))


def delete_message(message_id: int) -> tuple[str, int]:
    """Delete a message the current reader wrote (or may moderate)."""
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


def _stream_policy(state: WebchatState) -> StreamPolicy:
    settings = state.settings
    return StreamPolicy(settings.backlog, settings.max_streams, settings.stream_ttl)


def _load(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        return schema.load(data)  # type: ignore[return-value]
    except ValidationError as error:
        raise ValidationFailed(error.normalized_messages()) from None  # type: ignore[arg-type]


def _load_field(field: Any, value: str, name: str) -> Any:
    try:
        return field.deserialize(value)
    except ValidationError as error:
        raise ValidationFailed({name: error.messages}) from None  # type: ignore[dict-item]


def _json_body(max_body: int) -> Any:
    if not request.is_json:
        raise WebchatError(
            "Send a JSON body with Content-Type: application/json.",
            status=415,
            code="unsupported_media_type",
        )
    # The host's MAX_CONTENT_LENGTH, if lower, still wins.
    host_limit = request.max_content_length
    limit = max_body if host_limit is None else min(max_body, host_limit)
    if (request.content_length or 0) > limit:
        raise BodyTooLarge(limit)
    # A chunked body announces no length: read one byte past the limit to know it is over.
    request.max_content_length = limit + 1
    raw = request.get_data()
    if len(raw) > limit:
        raise BodyTooLarge(limit)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise WebchatError(
            "The body is not valid JSON.", status=400, code="malformed_json"
        ) from None


def _json_routing_errors() -> Response | None:
    # Flask hands routing errors (unknown path, wrong method) to app-level handlers only; answer
    # those under our prefix in our JSON shape, and leave the host's other pages alone.
    error = request.routing_exception
    if not isinstance(error, HTTPException) or (error.code or 0) < 400:
        return None
    state = current_app.extensions.get("webchat")
    if state is None or not state.is_chat_path(request.path):
        return None
    return add_security_headers(handle_http_exception(error))


def _read_only_head() -> Response | None:
    # HEAD runs a GET view and drops the body: a poll would use up a batch that nobody sees, and
    # the page would open a stream that nobody polls. Answer the headers without doing either.
    view = (request.endpoint or "").rpartition(".")[2]
    if request.method != "HEAD" or view not in _HEAD_TYPES:
        return None
    return Response(status=200, mimetype=_HEAD_TYPES[view])


# What a HEAD of each reading view answers with, instead of reading.
_HEAD_TYPES = {"chat": "text/html", "poll": "application/json", "events": "text/event-stream"}


def _no_store(response: Response) -> Response:
    # Answers depend on the session and move cursors; only the static files may be cached.
    if not (request.endpoint or "").endswith(".static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
