"""Errors on the wire: the one shape every error answer has."""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorDetailSchema(Schema):
    """What went wrong: the status again, a stable ``code``, a sentence, and per-field messages."""

    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"example": "invalid_fields"})
    message = fields.String(required=True)
    #: Only for 422: marshmallow's messages, by field name. (``fields`` is taken by Schema.)
    field_messages = fields.Dict(keys=fields.String(), data_key="fields")


class ErrorSchema(Schema):
    """Every error answer: ``{"error": {...}}``."""

    error = fields.Nested(ErrorDetailSchema, required=True)
