"""The operations of presence and typing: ``GET /presence`` and ``POST /typing``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import (
    BodyTooLarge,
    CrossSiteRequest,
    CsrfRefused,
    DatabaseUnavailable,
    IdentityRequired,
    MalformedJSON,
    RateLimited,
    UnsupportedMediaType,
    ValidationFailed,
)
from .answers import _json, _operation


def operations(
    named: Callable[[str], str], parameters: list[Any], errors: list[Any], room: str
) -> dict[str, dict[str, Any]]:
    """The operations of presence and typing, by path, as :mod:`.operations` lists them."""
    return {
        "/presence": {
            "get": {
                **_operation(
                    named("getPresence"),
                    f"Who is in the room now{room}: signed-in users by name, and guests counted.",
                    {200: _json("The room's name, its users and its number of guests.", "Here")},
                    [*errors, DatabaseUnavailable],
                ),
                "parameters": [*parameters],
            }
        },
        "/typing": {
            "post": {
                **_operation(
                    named("postTyping"),
                    "Tell the room's other event streams that the reader is typing; stores"
                    " nothing. At most once per WEBCHAT_TYPING_INTERVAL seconds.",
                    {204: {"description": "Told; streams show it for a few seconds."}},
                    [
                        MalformedJSON,
                        CsrfRefused,
                        *errors,
                        IdentityRequired,
                        CrossSiteRequest,
                        BodyTooLarge,
                        UnsupportedMediaType,
                        ValidationFailed,
                        RateLimited,
                    ],
                ),
                "parameters": [*parameters],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": "Typing"}},
                },
            }
        },
    }
