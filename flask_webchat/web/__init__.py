"""The web layer: the only part of the chat that knows HTTP.

:func:`create_blueprint` builds the blueprint from :data:`ROUTES`, a table of every route with
what ``HEAD`` answers for it, and wires the hooks and error handlers that give every answer the
chat's headers and its one JSON error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..errors import WebchatError
from . import page, presence, reading, routes
from .errors import handle_http_exception, handle_unexpected, handle_webchat_error
from .hooks import add_security_headers, json_routing_errors, no_store, refuse_cross_site_writes
from .page import render_widget
from .session import enter_room, guard_session_saves

__all__ = ["ROUTES", "Route", "create_blueprint", "render_widget"]


@dataclass(frozen=True)
class Route:
    """One route of the blueprint."""

    path: str
    endpoint: str
    view: Callable[..., Any]
    method: str
    #: Also served under ``/rooms/<room>``; at the top, for the default room.
    in_room: bool = False
    #: For a ``GET`` that reads: the type ``HEAD`` answers with, without reading. A poll would
    #: use up a batch that nobody sees, and the page would open a stream that nobody reads.
    head: str | None = None


ROUTES = (
    Route("/", "chat", page.chat_page, "GET", in_room=True, head="text/html"),
    Route("/messages", "poll", routes.poll_messages, "GET", in_room=True, head="application/json"),
    Route("/messages", "post", routes.post_message, "POST", in_room=True),
    Route("/messages/history", "history", routes.message_history, "GET", in_room=True),
    Route("/events", "events", routes.stream_events, "GET", in_room=True, head="text/event-stream"),
    Route("/streams", "open_stream", routes.open_stream, "POST", in_room=True),
    Route("/rooms", "rooms", routes.list_rooms, "GET"),
    Route("/read", "read", reading.mark_read, "POST", in_room=True),
    Route("/presence", "presence", presence.get_presence, "GET", in_room=True),
    Route("/typing", "typing", presence.post_typing, "POST", in_room=True),
    Route("/messages/<int:message_id>", "message", routes.get_message, "GET", in_room=True),
    Route("/messages/<int:message_id>", "delete", routes.delete_message, "DELETE", in_room=True),
    Route("/messages/<int:message_id>", "edit", routes.edit_message, "PATCH", in_room=True),
    Route(
        "/messages/<int:message_id>/reactions/<emoji>",
        "react",
        routes.add_reaction,
        "PUT",
        in_room=True,
    ),
    Route(
        "/messages/<int:message_id>/reactions/<emoji>",
        "unreact",
        routes.remove_reaction,
        "DELETE",
        in_room=True,
    ),
    Route("/openapi.json", "openapi", routes.openapi_document, "GET"),
)
_HEAD_ANSWERS: dict[Any, str] = {route.view: route.head for route in ROUTES if route.head}


def create_blueprint(name: str = "webchat") -> Blueprint:
    """Build the chat's blueprint (one per :class:`~flask_webchat.Webchat`)."""
    # Rooted at the package, where the overridable templates and the static files live.
    package = __name__.rpartition(".")[0]
    bp = Blueprint(
        name,
        package,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    for route in ROUTES:
        methods = [route.method]
        if route.in_room:
            defaults = {"room": None}
            bp.add_url_rule(
                route.path, route.endpoint, route.view, methods=methods, defaults=defaults
            )
            bp.add_url_rule(
                f"/rooms/<room>{route.path}", route.endpoint, route.view, methods=methods
            )
        else:
            bp.add_url_rule(route.path, route.endpoint, route.view, methods=methods)
    bp.register_error_handler(WebchatError, handle_webchat_error)
    bp.register_error_handler(HTTPException, handle_http_exception)
    bp.register_error_handler(Exception, handle_unexpected)
    bp.before_app_request(json_routing_errors)
    bp.record_once(lambda setup: guard_session_saves(cast(Flask, setup.app)))
    bp.before_app_request(guard_session_saves)
    bp.before_request(_answer_head)
    bp.before_request(refuse_cross_site_writes)
    bp.after_request(no_store)
    bp.after_request(add_security_headers)
    return bp


def _answer_head() -> Response | None:
    """Answer ``HEAD`` of a reading route with its headers alone (``before_request``).

    Only once the room may be read: ``HEAD`` says no more than ``GET`` would.
    """
    if request.method != "HEAD" or request.endpoint is None:
        return None
    mimetype = _HEAD_ANSWERS.get(current_app.view_functions.get(request.endpoint))
    if mimetype is None:
        return None
    enter_room((request.view_args or {}).get("room"))
    return Response(status=200, mimetype=mimetype)
