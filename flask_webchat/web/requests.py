"""Reading what a request sends: its JSON body, with the limits every write shares."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from ..errors import BodyTooLarge, MalformedJSON, UnsupportedMediaType


def json_body(max_body: int) -> Any:
    """The request's JSON body: 415 if it is not JSON, 413 if too large, 400 if malformed."""
    if not request.is_json:
        raise UnsupportedMediaType()
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
        raise MalformedJSON() from None
