"""Presence and typing on the wire: who is in a room, and a guest's typing notice."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_load

from ..text import AUTHOR_NAME_RULE


class PresenceSchema(Schema):
    """``GET /presence`` and a poll's ``presence``: who is in the room now."""

    users = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Signed-in users present, by display name, once each."},
    )
    guests = fields.Integer(
        required=True, metadata={"description": "How many readers who are not signed in."}
    )


class HereSchema(PresenceSchema):
    """The answer of ``GET /presence``: a room's name, and who is in it."""

    room = fields.String(required=True)


class TypingSchema(Schema):
    """The body of ``POST /typing``: ``{}``, or ``{"username": "…"}`` for a guest."""

    class Meta:
        unknown = EXCLUDE

    username = fields.String(
        validate=AUTHOR_NAME_RULE,
        metadata={
            "pattern": AUTHOR_NAME_RULE.pattern,
            "description": "The name a guest types under. Ignored for a signed-in user.",
        },
    )

    @pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("username"), str):
            data = {**data, "username": data["username"].strip()}
        return data
