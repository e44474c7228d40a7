"""What runs around every request of the blueprint: browser safety, caching, routing errors.

A browser attaches the session cookie to any request a page sends, including a page on another
site. Writes therefore check where the request came from: browsers say so in ``Sec-Fetch-Site``
(and older ones in ``Origin``). Clients that send neither, such as ``curl``, are not browsers and
cannot be tricked into sending someone else's cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, request
from werkzeug.exceptions import HTTPException

from ..errors import CrossSiteRequest
from ..state import find_state, get_state
from .errors import handle_http_exception

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# "none" is a request the user made directly (typed URL, bookmark), never a page's script.
_OWN_SITE = frozenset({"same-origin", "none"})


def refuse_cross_site_writes() -> None:
    """Before a write: refuse it when a browser says another origin sent it."""
    if request.method not in _WRITES:
        return
    origin = request.headers.get("Origin")
    if origin is not None and origin in get_state().settings.trusted_origins:
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        if fetch_site not in _OWN_SITE:
            raise CrossSiteRequest()
        return
    # Browsers without Fetch Metadata still send Origin on cross-origin writes. Only the host
    # part is compared: behind a TLS proxy the app may see http while the browser says https.
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise CrossSiteRequest()


def add_security_headers(response: Response) -> Response:
    """Never let a browser sniff JSON as HTML; keep chat URLs out of other sites' logs.

    HTML answers (the chat page) also get the configured Content-Security-Policy. Headers the
    view already set are kept, and a host's own ``after_request`` hooks run later and win.
    """
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    policy = get_state().settings.content_security_policy
    if policy and response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", policy)
    return response


def no_store(response: Response) -> Response:
    """Keep caches from storing answers that depend on the session (``after_request``)."""
    # Answers depend on the session and move cursors; only the static files may be cached.
    if not (request.endpoint or "").endswith(".static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def json_routing_errors() -> Response | None:
    """Answer routing errors under the chat's prefix as JSON (``before_app_request``)."""
    # Flask hands routing errors (unknown path, wrong method) to app-level handlers only; answer
    # those under our prefix in our JSON shape, and leave the host's other pages alone.
    error = request.routing_exception
    if not isinstance(error, HTTPException) or (error.code or 0) < 400:
        return None
    state = find_state()
    if state is None or not state.is_chat_path(request.path):
        return None
    # The blueprint's after_request hooks do not run for a request no route matched.
    return no_store(add_security_headers(handle_http_exception(error)))
