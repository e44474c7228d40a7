"""Serve the example app with gunicorn: several processes, each holding thousands of readers.

One command, on PostgreSQL and Redis (sessions and notifications both in Redis)::

    FLASK_SQLALCHEMY_DATABASE_URI=postgresql+psycopg://postgres@127.0.0.1/test \\
    FLASK_REDIS_URL=redis://127.0.0.1:6379/0 \\
    gunicorn -c python:example_app.gunicorn_conf

Command-line options override these, e.g. ``-b 0.0.0.0:8000`` or ``-k gthread --threads 16``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

wsgi_app = "example_app:create_app()"
bind = "127.0.0.1:8000"
workers = 2
# Waiting readers are greenlets: a few kilobytes each instead of a thread.
worker_class = "gevent"
worker_connections = 5000
# Long-polls wait up to WEBCHAT_MAX_WAIT (25 s); workers that stop answering are restarted.
timeout = 60
graceful_timeout = 5
keepalive = 75


def on_starting(server: Any) -> None:
    # Create the tables once, before the workers start, so that they do not race to do it.
    # In a child process: the master stays free of the app's imports and connections.
    app = server.app.app_uri or wsgi_app  # the APP_MODULE given on the command line, if any
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", app, "webchat", "create-tables"], check=True
    )
