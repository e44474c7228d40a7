"""The chat's exceptions: one class per error code, and no Flask in sight.

The chat's rules raise these wherever they run: in a request, a CLI command or host code. The web
layer answers each one as ``{"error": {"status", "code", "message", "fields"}}`` with its
``status``, and the OpenAPI document lists the codes from these classes, so a new error is declared
in exactly one place.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .i18n import N_


class WebchatError(Exception):
    """An error a client caused or must know about, with its HTTP status and a stable code."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    #: The sentence used when the raiser gives none. Mark sentences with
    #: :func:`~flask_webchat.i18n.N_` so that the HTTP answer speaks the reader's language.
    default_message: ClassVar[str] = N_("The request cannot be served.")

    def __init__(self, message: str | None = None, *, fields: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        #: Per-field messages (marshmallow's), for validation errors only.
        self.fields = fields


class MalformedJSON(WebchatError):
    """The body is not valid JSON."""

    status, code = 400, "malformed_json"
    default_message = N_("The body is not valid JSON.")


class Forbidden(WebchatError):
    """The current reader may not do this (read or post to this room, delete this message)."""

    status, code = 403, "forbidden"
    default_message = N_("You may not do this.")


class IdentityRequired(WebchatError):
    """Only signed-in users may post (``WEBCHAT_ALLOW_ANONYMOUS`` is false)."""

    status, code = 403, "identity_required"
    default_message = N_("Sign in to post messages.")


class CrossSiteRequest(WebchatError):
    """A page on another site tried to change something in the chat."""

    status, code = 403, "cross_site_request"
    default_message = N_("Requests from other sites may not change the chat.")


class CsrfRefused(WebchatError):
    """The host's CSRF protection (Flask-WTF) refused a write without its token."""

    status, code = 400, "csrf_failed"
    default_message = N_("The CSRF token is missing or invalid; reload the page.")


class MessageNotFound(WebchatError):
    """There is no message with this id in this room (it never existed, or was deleted)."""

    status, code = 404, "message_not_found"

    def __init__(self, message_id: int) -> None:
        super().__init__(N_("There is no message %(id)s.", id=message_id))


class UnknownRoute(WebchatError):
    """No route of the chat has this path: a wrong URL, not a missing message or room."""

    status, code = 404, "unknown_route"
    default_message = N_("The chat has no such URL.")


class MethodNotAllowed(WebchatError):
    """The path exists but does not take this method; ``Allow`` lists those it takes."""

    status, code = 405, "method_not_allowed"
    default_message = N_("This URL does not take this method.")


class UnknownStream(WebchatError):
    """The reader stream named does not belong to this session, or was dropped."""

    status, code = 404, "unknown_stream"
    default_message = N_(
        "This stream does not exist or has expired; read on from your last cursor, or open a new"
        " stream."
    )


class UnknownRoom(WebchatError):
    """The room named may not exist (``WEBCHAT_ROOMS``), or its name is not valid."""

    status, code = 404, "unknown_room"


class AlreadyDeleted(WebchatError):
    """The post this ``Idempotency-Key`` stored has been deleted since; nothing is stored."""

    status, code = 409, "already_deleted"
    default_message = N_("This post was stored once already, and has been deleted since.")


class BodyTooLarge(WebchatError):
    """The request body is over ``WEBCHAT_MAX_BODY``."""

    status, code = 413, "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(N_("The body is larger than %(limit)s bytes.", limit=limit))


class UnsupportedMediaType(WebchatError):
    """The body is not ``application/json``."""

    status, code = 415, "unsupported_media_type"
    default_message = N_("Send a JSON body with Content-Type: application/json.")


class ValidationFailed(WebchatError):
    """The request parsed, but its fields are invalid; ``fields`` says which and why."""

    status, code = 422, "invalid_fields"
    default_message = N_("Some fields are invalid.")

    def __init__(self, fields: dict[str, Any], message: str | None = None) -> None:
        super().__init__(message, fields=fields)


class MessageRejected(WebchatError):
    """A host's message filter refused the message; the message says why.

    Raise it from a :meth:`~flask_webchat.Webchat.message_filter`:
    ``raise MessageRejected("Links are not allowed here.")``. Nothing is stored, and the page
    keeps the draft.
    """

    status, code = 422, "message_rejected"
    default_message = N_("This message was refused.")


class RateLimited(WebchatError):
    """Too many writes (posts, edits, reactions, deletes); retry after ``Retry-After`` seconds."""

    status, code = 429, "rate_limited"
    default_message = N_("Too many messages; wait a moment before sending more.")


class InternalError(WebchatError):
    """A bug on the server: logged there, and never shown as a traceback."""

    status, code = 500, "internal_error"
    default_message = N_("Something went wrong on the server.")


class DatabaseUnavailable(WebchatError):
    """The chat's database cannot be reached; retry after ``Retry-After`` seconds."""

    status, code = 503, "database_unavailable"
    default_message = N_("The chat's database is unavailable; try again shortly.")


def error_classes() -> list[type[WebchatError]]:
    """Every error class, by status, then code: what the API documents."""
    found: list[type[WebchatError]] = []
    pending = list(WebchatError.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: (cls.status, cls.code))
