"""The Flask-SSE 1.0.0 peer for ``bench/peers.py``: its blueprint, and a view that publishes.

Served by gunicorn with one gevent worker, from its own virtualenv (``bench/.venvs/flask-sse``)::

    PEER_REDIS_URL=redis://127.0.0.1:6379/0 gunicorn -w 1 -k gevent flask_sse_app:app

``GET /chat/events`` streams the ``sse`` channel: every open stream subscribes on a Redis
connection of its own, and a published event reaches whoever is subscribed at that moment. Nothing
is stored, so there is no cursor and a reader who was away misses what was sent meanwhile.
``POST /chat/messages`` takes ``{"content", "username"}`` and publishes it as a ``message`` event.
"""

from __future__ import annotations

import os

from flask import Flask, request
from flask_sse import sse

app = Flask(__name__)
app.config["REDIS_URL"] = os.environ["PEER_REDIS_URL"]
app.register_blueprint(sse, url_prefix="/chat/events")


@app.post("/chat/messages")
def post_message() -> tuple[dict[str, str], int]:
    body = request.get_json(force=True)
    message = {"content": str(body["content"]), "username": str(body.get("username", ""))}
    sse.publish(message, type="message")
    return message, 201


@app.get("/ping")
def ping() -> str:
    return "ok"
