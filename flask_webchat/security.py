"""Browser safety: refusing cross-site writes, and the headers every chat answer carries.

A browser attaches the session cookie to any request a page sends, including a page on another
site. Posting and deleting therefore check where the request came from: browsers say so in
``Sec-Fetch-Site`` (and older ones in ``Origin``). Clients that send neither, such as ``curl``,
are not browsers and cannot be tricked into sending someone else's cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, request

from .errors import Forbidden
from .state import get_state

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# "none" is a request the user made directly (typed URL, bookmark), never a page's script.
_OWN_SITE = frozenset({"same-origin", "none"})


class CrossSiteRequest(Forbidden):
    """A page on another site tried to change something in the chat."""

    code = "cross_site_request"


def refuse_cross_site_writes() -> None:
    """Before a write: refuse it when a browser says another origin sent it."""
    if request.method not in _WRITES:
        return
    origin = request.headers.get("Origin")
    trusted = get_state().settings.trusted_origins
    if origin is not None and origin in trusted:
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        if fetch_site not in _OWN_SITE:
            raise CrossSiteRequest("Requests from other sites may not change the chat.")
        return
    # Browsers without Fetch Metadata still send Origin on cross-origin writes. Only the host
    # part is compared: behind a TLS proxy the app may see http while the browser says https.
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise CrossSiteRequest("Requests from other sites may not change the chat.")


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
