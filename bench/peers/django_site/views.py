"""The one view that sends: ``send_event(channel, "message", data)``, as the README shows."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST
from django_eventstream import send_event


@require_POST
def post_message(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    message = {"content": str(body["content"]), "username": str(body.get("username", ""))}
    send_event("room", "message", message)  # saved by the storage class, then published
    response = JsonResponse(message, status=201)
    response["Content-Length"] = str(len(response.content))
    return response


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
