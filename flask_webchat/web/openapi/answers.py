"""How the document writes an operation: its answers, and the error answers of what it raises."""

from __future__ import annotations

from typing import Any

from ...errors import DatabaseUnavailable, RateLimited, WebchatError


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    operation_id: str,
    summary: str,
    answers: dict[int, dict[str, Any]],
    errors: list[type[WebchatError]],
) -> dict[str, Any]:
    """An operation whose error answers list the codes of the ``errors`` it may raise."""
    responses: dict[int, dict[str, Any]] = dict(answers)
    by_status: dict[int, list[type[WebchatError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    for status, raised in sorted(by_status.items()):
        described = " ".join(f"`{error.code}`: {_first_line(error)}" for error in raised)
        responses[status] = _json(described, "Error")
        if status in (RateLimited.status, DatabaseUnavailable.status):
            responses[status]["headers"] = {"Retry-After": "Retry-After"}
    return {"operationId": operation_id, "summary": summary, "responses": responses}


def _first_line(error: type[WebchatError]) -> str:
    return (error.__doc__ or error.default_message).strip().splitlines()[0]
