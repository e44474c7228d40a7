"""The example host: a tiny Flask site with its own database, sessions, users, and a chat room.

Run it with ``flask --app example_app run``. With Flask-Login installed (the ``example`` extra),
the site has demo users to sign in as with one click: Ana moderates (she may delete anyone's
message), and the ``members`` room is for signed-in users only. Anyone may still chat as a guest.
The first start posts a welcome notice through the chat's Python API.

It keeps everything in ``instance/``: an SQLite file
for the database and a folder of session files, so there is no server to install. Any setting can
be overridden from the environment with a ``FLASK_`` prefix, e.g.
``FLASK_SQLALCHEMY_DATABASE_URI=postgresql+psycopg://…``. With ``FLASK_REDIS_URL=redis://…`` the
sessions, the chat's notifications and its rate-limit counts go to Redis, so that several
processes serve one chat (see ``example_app/gunicorn_conf.py``).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from cachelib.file import FileSystemCache
from flask import Flask, redirect, render_template, request, session, url_for
from flask_session import Session
from flask_sqlalchemy import SQLAlchemy
from werkzeug.wrappers import Response

from flask_webchat import Webchat

from . import accounts

db = SQLAlchemy()
webchat = Webchat()


def create_app(config: dict[str, Any] | None = None, *, instance_path: str | None = None) -> Flask:
    """Build the example site; ``config`` overrides any setting, ``instance_path`` the folder."""
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SECRET_KEY=_secret_key(instance),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'webchat.sqlite3'}",
        SESSION_TYPE="cachelib",
        SESSION_CACHELIB=FileSystemCache(str(instance / "sessions"), threshold=0),
        SESSION_SERIALIZATION_FORMAT="json",
        # The chat page switches between these rooms, /support embeds the second, and only
        # signed-in users may read the third.
        WEBCHAT_ROOMS=["lobby", "support", accounts.MEMBERS_ROOM],
        # Posted once, when the database is made; null (None) for a site that starts empty.
        EXAMPLE_WELCOME=accounts.WELCOME,
        # The visitor's choice of English or 中文 (see /language/…), else their browser's.
        WEBCHAT_LOCALE=_chosen_language,
    )
    app.config.from_prefixed_env()
    app.config.update(config or {})
    if app.config.get("REDIS_URL"):
        _use_redis(app, app.config["REDIS_URL"])

    db.init_app(app)
    Session(app)
    webchat.init_app(app, db=db)
    accounts.init_app(app, db, webchat)

    with app.app_context():
        db.create_all()  # the host's tables, and the chat's with them
        accounts.welcome_once(db, webchat, app.config["EXAMPLE_WELCOME"])

    @app.get("/")
    def home() -> str:
        # The site's own link to the chat says how many messages wait for this visitor.
        waiting = sum(unread.count for unread in webchat.unread_counts().values())
        return render_template("home.html", waiting=waiting)

    @app.get("/support")
    def support() -> str:
        return render_template("support.html")  # embeds the chat with {{ webchat_widget() }}

    @app.get("/language/<code>")
    def choose_language(code: str) -> Response:
        if code in LANGUAGES:
            session["language"] = code
        back = request.args.get("next", "")
        # Only a path of this site: never an open redirect to somewhere else.
        if not back.startswith("/") or back.startswith("//"):
            back = url_for("home")
        return redirect(back)

    @app.context_processor
    def languages() -> dict[str, Any]:
        return {"languages": LANGUAGES}

    return app


#: The languages a visitor can switch between, by the chat's catalog name.
LANGUAGES = {"en": "English", "zh_Hans": "中文"}


def _chosen_language() -> str | None:
    # Called by the chat on each request; None falls back to the browser's Accept-Language.
    return session.get("language")


def _use_redis(app: Flask, url: str) -> None:
    # Sessions every process can read, and notifications that reach every process.
    import redis

    app.config.update(SESSION_TYPE="redis", SESSION_REDIS=redis.Redis.from_url(url))
    # Rate limits counted once for all processes, not once per process.
    app.config.setdefault("WEBCHAT_RATE_LIMIT_STORAGE", url)
    if app.config.get("WEBCHAT_NOTIFIER", "memory") in ("memory", "redis"):
        app.config["WEBCHAT_NOTIFIER"] = "redis"
        app.config.setdefault("WEBCHAT_NOTIFIER_URL", url)


def _secret_key(instance: Path) -> str:
    # A key made once and kept in the instance folder: sessions survive restarts, and no secret
    # is ever committed. Several processes may start at once: the first one writes it.
    path = instance / "secret_key"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    for _ in range(50):  # another process may be writing it right now
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty; delete it to make a new key.")
