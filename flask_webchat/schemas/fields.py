"""The field types of the wire format, and :func:`load`, which reports what a schema refuses."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields

from ..errors import ValidationFailed
from ..i18n import N_

_CURSOR = re.compile(r"^[0-9]{1,18}$")


def load(schema: Schema | fields.Field, data: Any, *, name: str | None = None) -> Any:
    """``data`` loaded by a schema, or by one field (reported under ``name``).

    Invalid input raises :class:`~flask_webchat.errors.ValidationFailed` with marshmallow's
    messages by field, which the HTTP API answers as 422.
    """
    try:
        if isinstance(schema, Schema):
            return schema.load(data)
        return schema.deserialize(data)
    except ValidationError as error:
        messages = error.normalized_messages() if name is None else {name: error.messages}
        raise ValidationFailed(messages) from None  # type: ignore[arg-type]


class UTCDateTime(fields.Field):
    """A UTC timestamp as ISO 8601 with a ``Z``, e.g. ``2026-11-24T09:15:02.125Z``."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"


class Cursor(fields.Field):
    """A reader's position: an opaque string on the wire, a room position on the server."""

    default_error_messages = {"invalid": N_("Not a valid cursor.")}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        # Described in the OpenAPI document with the pattern it accepts.
        kwargs["metadata"] = {"pattern": _CURSOR.pattern, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _serialize(self, value: int | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not _CURSOR.match(value):
            raise self.make_error("invalid")
        return int(value)
