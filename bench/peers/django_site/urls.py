"""``GET /chat/events`` streams the ``room`` channel; ``POST /chat/messages`` sends to it."""

from __future__ import annotations

import django_eventstream
from django.urls import include, path

from django_site.views import ping, post_message

urlpatterns = [
    path("chat/events", include(django_eventstream.urls), {"channels": ["room"]}),
    path("chat/messages", post_message),
    path("ping", ping),
]
