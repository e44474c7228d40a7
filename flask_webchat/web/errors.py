"""The error handlers: every failure under the blueprint becomes the one JSON error shape.

``{"error": {"status": 404, "code": "unknown_route", "message": "…", "fields": {…}}}``, where
``fields`` appears only for validation errors. The chat raises
:class:`~flask_webchat.errors.WebchatError`; Werkzeug's HTTP exceptions and database outages are
translated to the same shape, so a client has one thing to parse and never sees a traceback.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from .. import errors
from ..errors import DatabaseUnavailable, InternalError, RateLimited, WebchatError
from ..i18n import N_
from ..state import find_state
from .locale import localized
from .ratelimit import add_retry_after

# Werkzeug's own sentences for the routing errors the chat answers, in the chat's words, so that
# they are translated too; any other description is kept as it is.
_HTTP_MESSAGES = {
    404: N_("There is nothing at this address."),
    405: N_("This address does not accept this method."),
    413: N_("The request is too large."),
    RateLimited.status: RateLimited.default_message,
}

# Errors that mean "the database is not reachable right now", as opposed to a bug.
_OUTAGES = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def error_response(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> Response:
    """Build the JSON error response in the shared shape, in the reader's language.

    ``message`` and the ``fields`` messages the chat wrote are translated here, at render time:
    the core raises them in English with their message id (:func:`~flask_webchat.i18n.N_`).
    """
    body: dict[str, Any] = {"status": status, "code": code, "message": localized(message)}
    if fields is not None:
        body["fields"] = localized(fields)
    response = jsonify(error=body)
    response.status_code = status
    return response


def handle_webchat_error(error: WebchatError) -> Response:
    """Render a :class:`~flask_webchat.errors.WebchatError` in the shared shape."""
    return error_response(error.status, error.code, error.message, error.fields)


def handle_http_exception(error: HTTPException) -> Response:
    """Render Werkzeug's exceptions (404 from routing, 405, 413 …) in the shared shape.

    Those that mean something the chat has a code for get that code (a routing 404 is
    ``unknown_route``, never a missing message's code); any other keeps a code made of its name.
    """
    status = error.code or 500
    if status == InternalError.status:  # Flask's wrapper of an error no handler took
        cause = getattr(error, "original_exception", None)
        current_app.logger.error("webchat: unexpected error", exc_info=cause)
        return handle_webchat_error(InternalError())
    known = _known_code(error)
    if known is not None:
        code = known.code
    else:
        code = re.sub(r"[^a-z0-9]+", "_", (error.name or "error").lower()).strip("_")
    generic = error.description == type(error).description or status == RateLimited.status
    message = _HTTP_MESSAGES.get(status) if generic else None
    if known is errors.CsrfRefused:
        # Flask-WTF's own sentence ("The CSRF token has expired.") is English only (Flask-WTF
        # logs it); the chat's says the same to the reader, in their language.
        message = known.default_message
    response = error_response(status, code, message or error.description or error.name)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status == RateLimited.status:
        state = find_state()
        add_retry_after(response, state.rate_limiter if state else None)
    return response


def _known_code(error: HTTPException) -> type[WebchatError] | None:
    if error.code == RateLimited.status:  # Flask-Limiter's RateLimitExceeded
        return RateLimited
    if isinstance(error, NotFound):
        return errors.UnknownRoute
    if isinstance(error, MethodNotAllowed):
        return errors.MethodNotAllowed
    if isinstance(error, RequestEntityTooLarge):  # MAX_CONTENT_LENGTH, before the chat's own
        return errors.BodyTooLarge
    # Flask-WTF's CSRFError is a plain 400 BadRequest; it is known by its class, without
    # importing Flask-WTF, which the chat does not depend on.
    if any(cls.__name__ == "CSRFError" for cls in type(error).__mro__):
        return errors.CsrfRefused
    return None


def handle_unexpected(error: Exception) -> Response:
    """Answer 503 for a database outage and 500 for a bug, always as JSON, never a traceback."""
    _rollback()
    if isinstance(error, _OUTAGES) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ):
        current_app.logger.warning("webchat: database unavailable: %s", error)
        response = handle_webchat_error(DatabaseUnavailable())
        response.headers["Retry-After"] = "2"
        return response
    current_app.logger.exception("webchat: unexpected error")
    return handle_webchat_error(InternalError())


def _rollback() -> None:
    # A failed statement leaves the session's transaction unusable until it is rolled back.
    state = find_state()
    if state is not None:
        try:
            state.session.rollback()
        except Exception:  # the connection may be gone as well; the pool will replace it
            current_app.logger.debug("webchat: rollback failed", exc_info=True)
