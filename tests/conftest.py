"""A host site built the way a user builds one, and a browser-like client to talk to it.

The host has its own ``SQLAlchemy`` object with its own ``User`` model, its own session backend,
a login route, and the two hooks a real site would register. Tests drive it over HTTP and read
its database, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cachelib.file import FileSystemCache
from flask import Flask, request, session
from flask.testing import FlaskClient
from flask_session import Session
from flask_sqlalchemy import SQLAlchemy
from werkzeug.test import TestResponse

from flask_webchat import Identity, Webchat
from flask_webchat.models import ChatMessage

SESSION_BACKENDS = ["signed-cookie", "cachelib"]


@dataclass
class Host:
    """A running host app and handles on what a test may inspect."""

    app: Flask
    db: SQLAlchemy
    webchat: Webchat
    user_model: Any

    def browser(self) -> Browser:
        """A new browser: its own cookie jar, hence its own session."""
        return Browser(self.app.test_client())

    def stored_messages(self) -> list[ChatMessage]:
        with self.app.app_context():
            query = sa.select(ChatMessage).order_by(ChatMessage.id)
            rows = self.db.session.scalars(query).all()
            self.db.session.expunge_all()
            return list(rows)

    def add_user(self, name: str, *, moderator: bool = False) -> None:
        with self.app.app_context():
            self.db.session.add(self.user_model(name=name, is_moderator=moderator))
            self.db.session.commit()


class Browser:
    """One browser session talking to the chat under ``prefix``."""

    def __init__(self, client: FlaskClient, prefix: str = "/chat") -> None:
        self.client = client
        self.prefix = prefix

    def open_page(self) -> str:
        """Load the chat page, as a new tab does, and return the tab's stream id."""
        response = self.client.get(f"{self.prefix}/")
        assert response.status_code == 200, response.data
        match = re.search(r'data-stream="([^"]+)"', response.text)
        assert match, "the chat page carries its stream id in data-stream"
        return match.group(1)

    def poll(self, stream: str | None = None, **params: Any) -> dict[str, Any]:
        response = self.poll_response(stream, **params)
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[return-value]

    def poll_response(self, stream: str | None = None, **params: Any) -> TestResponse:
        if stream is not None:
            params["stream"] = stream
        return self.client.get(f"{self.prefix}/messages", query_string=params)

    def post(self, content: str, username: str | None = "anon") -> TestResponse:
        body: dict[str, Any] = {"content": content}
        if username is not None:
            body["username"] = username
        return self.client.post(f"{self.prefix}/messages", json=body)

    def say(self, content: str, username: str | None = "anon") -> int:
        """Post a message that must be accepted; return its id."""
        response = self.post(content, username)
        assert response.status_code == 201, response.json
        return response.json["id"]  # type: ignore[index,no-any-return]

    def delete(self, message_id: int) -> TestResponse:
        return self.client.delete(f"{self.prefix}/messages/{message_id}")

    def login(self, name: str) -> None:
        assert self.client.post("/login", json={"name": name}).status_code == 204

    def logout(self) -> None:
        assert self.client.post("/logout").status_code == 204


def build_host(
    tmp_path: Path,
    session_backend: str = "signed-cookie",
    *,
    template_folder: str | None = None,
    register: str | None = None,
    **config: Any,
) -> Host:
    """Build a host app. ``register`` mounts the blueprint by hand at that prefix."""
    db = SQLAlchemy()
    webchat = Webchat()

    class User(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "users"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(80), unique=True, nullable=False)
        is_moderator = sa.Column(sa.Boolean, default=False, nullable=False)

    app = Flask("host", template_folder=template_folder)
    app.config.update(
        TESTING=True,
        SECRET_KEY="host-secret",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.sqlite3'}",
    )
    if session_backend == "cachelib":
        app.config.update(
            SESSION_TYPE="cachelib",
            SESSION_CACHELIB=FileSystemCache(str(tmp_path / "sessions"), threshold=0),
            SESSION_SERIALIZATION_FORMAT="json",
        )
    app.config.update(config)

    db.init_app(app)
    if session_backend != "signed-cookie":
        Session(app)
    webchat.init_app(app, db=db)
    if register is not None:
        app.register_blueprint(webchat.blueprint, url_prefix=register)

    @webchat.identity_loader
    def current_user() -> User | None:
        user_id = session.get("user_id")
        return db.session.get(User, user_id) if user_id is not None else None

    @webchat.delete_permission
    def moderators_may_delete(message: ChatMessage, identity: Identity | None) -> bool:
        return identity is not None and identity.user.is_moderator

    @app.post("/login")
    def login() -> tuple[str, int]:
        user = db.session.scalar(sa.select(User).where(User.name == request.json["name"]))
        session["user_id"] = user.id
        return "", 204

    @app.post("/logout")
    def logout() -> tuple[str, int]:
        session.pop("user_id", None)
        return "", 204

    with app.app_context():
        db.create_all()
    return Host(app=app, db=db, webchat=webchat, user_model=User)


@pytest.fixture(params=SESSION_BACKENDS)
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    """The default host, once per session backend."""
    yield build_host(tmp_path, request.param)


@pytest.fixture
def browser(host: Host) -> Browser:
    return host.browser()
