"""The one JSON error shape that every route of the blueprint answers with.

``{"error": {"status": 404, "code": "not_found", "message": "…", "fields": {…}}}``, where
``fields`` appears only for validation errors. Services raise :class:`WebchatError`; Werkzeug's
HTTP exceptions and database outages are translated to the same shape, so a client has one thing
to parse and never sees a traceback.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .ratelimit import add_retry_after


class WebchatError(Exception):
    """An error a client caused or must know about, with its HTTP status and a stable code."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or self.status
        self.code = code or self.code
        self.fields = fields


class NotFound(WebchatError):
    """The message, stream or route asked for does not exist."""

    status, code = 404, "not_found"


class UnknownStream(NotFound):
    """The reader stream named does not belong to this session, or was dropped."""

    code = "unknown_stream"

    def __init__(self) -> None:
        super().__init__("This stream does not exist or has expired; reload the page.")


class BodyTooLarge(WebchatError):
    """The request body is over ``WEBCHAT_MAX_BODY``."""

    status, code = 413, "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body is larger than {limit} bytes.")


class Forbidden(WebchatError):
    """The current reader may not do this."""

    status, code = 403, "forbidden"


class ValidationFailed(WebchatError):
    """The request parsed, but its fields are invalid; ``fields`` says which and why."""

    status, code = 422, "invalid_fields"

    def __init__(self, fields: dict[str, Any], message: str = "Some fields are invalid.") -> None:
        super().__init__(message, fields=fields)


def error_response(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> Response:
    """Build the JSON error response in the shared shape."""
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    response = jsonify(error=body)
    response.status_code = status
    return response


def handle_webchat_error(error: WebchatError) -> Response:
    """Render a :class:`WebchatError` in the shared shape."""
    return error_response(error.status, error.code, error.message, error.fields)


def handle_http_exception(error: HTTPException) -> Response:
    """Render Werkzeug's exceptions (404 from routing, 405, 413 …) in the shared shape."""
    status = error.code or 500
    code = re.sub(r"[^a-z0-9]+", "_", (error.name or "error").lower()).strip("_")
    if status == 429:  # Flask-Limiter's RateLimitExceeded
        code = "rate_limited"
    response = error_response(status, code, error.description or error.name)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status == 429:
        state = current_app.extensions.get("webchat")
        add_retry_after(response, state.rate_limiter if state else None)
    return response


# Errors that mean "the database is not reachable right now", as opposed to a bug.
_OUTAGES = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def handle_unexpected(error: Exception) -> Response:
    """Answer 503 for a database outage and 500 for a bug, always as JSON, never a traceback."""
    _rollback()
    if isinstance(error, _OUTAGES) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ):
        current_app.logger.warning("webchat: database unavailable: %s", error)
        response = error_response(
            503, "database_unavailable", "The chat's database is unavailable; try again shortly."
        )
        response.headers["Retry-After"] = "2"
        return response
    current_app.logger.exception("webchat: unexpected error")
    return error_response(500, "internal_error", "Something went wrong on the server.")


def _rollback() -> None:
    # A failed statement leaves the session's transaction unusable until it is rolled back.
    state = current_app.extensions.get("webchat")
    if state is not None:
        try:
            state.db.session.rollback()
        except Exception:  # the connection may be gone as well; the pool will replace it
            current_app.logger.debug("webchat: rollback failed", exc_info=True)
