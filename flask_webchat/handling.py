"""What every route of the blueprint shares: parsing arguments and bodies, and the answers'
common headers and shapes."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from .errors import BodyTooLarge, ValidationFailed, WebchatError, handle_http_exception
from .security import add_security_headers


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """``data`` loaded by ``schema``; invalid fields are a 422 that names them."""
    try:
        return schema.load(data)  # type: ignore[return-value]
    except ValidationError as error:
        raise ValidationFailed(error.normalized_messages()) from None  # type: ignore[arg-type]


def load_field(field: Any, value: str, name: str) -> Any:
    """One value (a header, say) loaded by a marshmallow field; 422 under ``name``."""
    try:
        return field.deserialize(value)
    except ValidationError as error:
        raise ValidationFailed({name: error.messages}) from None  # type: ignore[dict-item]


def json_body(max_body: int) -> Any:
    """The request's JSON body: 415 if it is not JSON, 413 if too large, 400 if malformed."""
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


def json_routing_errors() -> Response | None:
    """Answer routing errors under the chat's prefix as JSON (``before_app_request``)."""
    # Flask hands routing errors (unknown path, wrong method) to app-level handlers only; answer
    # those under our prefix in our JSON shape, and leave the host's other pages alone.
    error = request.routing_exception
    if not isinstance(error, HTTPException) or (error.code or 0) < 400:
        return None
    state = current_app.extensions.get("webchat")
    if state is None or not state.is_chat_path(request.path):
        return None
    return add_security_headers(handle_http_exception(error))


def read_only_head() -> Response | None:
    """Answer ``HEAD`` of a reading view with its headers alone (``before_request``)."""
    # HEAD runs a GET view and drops the body: a poll would use up a batch that nobody sees, and
    # the page would open a stream that nobody polls. Answer the headers without doing either.
    view = (request.endpoint or "").rpartition(".")[2]
    if request.method != "HEAD" or view not in _HEAD_TYPES:
        return None
    return Response(status=200, mimetype=_HEAD_TYPES[view])


# What a HEAD of each reading view answers with, instead of reading.
_HEAD_TYPES = {"chat": "text/html", "poll": "application/json", "events": "text/event-stream"}


def no_store(response: Response) -> Response:
    """Keep caches from storing answers that depend on the session (``after_request``)."""
    # Answers depend on the session and move cursors; only the static files may be cached.
    if not (request.endpoint or "").endswith(".static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
