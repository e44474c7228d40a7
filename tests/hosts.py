"""A host site built the way a user builds one, and a browser-like client to talk to it.

The host has its own ``SQLAlchemy`` object with its own ``User`` model, its own session backend,
a login route, and the two hooks a real site would register. Tests drive it over HTTP and read
its database, nothing else.

A :class:`Stack` names the host's database and session backend. PostgreSQL, MariaDB/MySQL and
Redis come from the ``WEBCHAT_TEST_*_URL`` environment variables (see :data:`SERVICE_VARIABLES`);
this module has no pytest in it, so the scripts in ``bench/`` build the same hosts.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cachelib.file import FileSystemCache
from flask import Flask, request, session
from flask.testing import FlaskClient
from flask_session import Session
from flask_sqlalchemy import SQLAlchemy
from werkzeug.test import TestResponse

from eventstream import EventStream, chunk_lines
from flask_webchat import Identity, Webchat
from flask_webchat.models import ChatMessage

#: Where each real service is found; without its variable, what needs it is skipped.
SERVICE_VARIABLES = {
    "postgres": "WEBCHAT_TEST_POSTGRES_URL",
    "mysql": "WEBCHAT_TEST_MYSQL_URL",
    "redis": "WEBCHAT_TEST_REDIS_URL",
}
# The drivers the package's extras install, for URLs given without one.
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


@dataclass(frozen=True)
class Stack:
    """A host's database (``sqlite``, ``postgres``, ``mysql``) and session backend."""

    database: str
    sessions: str

    @property
    def name(self) -> str:
        return f"{self.database}+{self.sessions}"

    def missing_services(self) -> list[str]:
        """The environment variables this stack needs that are not set."""
        needed = [self.database, self.sessions]
        return [
            SERVICE_VARIABLES[service]
            for service in needed
            if service in SERVICE_VARIABLES and not os.environ.get(SERVICE_VARIABLES[service])
        ]


#: Every database and every session backend at least once, plus the production pairing. MariaDB
#: runs twice: sessions in its own database put every poll inside a transaction the session
#: store began, while Redis sessions leave polls to run in autocommit mode (see streams.py).
STACKS = [
    Stack("sqlite", "signed-cookie"),
    Stack("sqlite", "cachelib"),
    Stack("postgres", "redis"),
    Stack("mysql", "sqlalchemy"),
    Stack("mysql", "redis"),
]
SQLITE = STACKS[0]
#: The stacks for behaviour that storage cannot change (a ``stacks`` mark): SQLite with signed
#: cookies, and the production pairing.
SAMPLE_STACKS = ("sqlite+signed-cookie", "postgres+redis")
#: The stacks for behaviour that the database may change but the session backend cannot: each
#: database once. Whatever reads or saves the session runs on the whole matrix.
EVERY_DATABASE = (*SAMPLE_STACKS, "mysql+redis")
#: The whole matrix, for a test in a module marked with fewer stacks.
EVERY_STACK = tuple(stack.name for stack in STACKS)


def give_worker_its_services() -> None:
    """Point this pytest-xdist worker's ``WEBCHAT_TEST_*_URL`` at services of its own.

    Tests empty the configured databases and start on a clean Redis database, so two workers
    sharing them would see each other's rows. Worker ``gwN`` gets ``<database>_gwN`` on each
    server (created the first time) and the Redis database N + 1 above the configured one.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    number = int(worker.removeprefix("gw"))
    for database in ("postgres", "mysql"):
        variable = SERVICE_VARIABLES[database]
        if os.environ.get(variable):
            configured = sa.make_url(os.environ[variable]).database
            os.environ[variable] = separate_database(database, f"{configured}_{worker}", Path())
    variable = SERVICE_VARIABLES["redis"]
    if os.environ.get(variable):
        url = urllib.parse.urlsplit(os.environ[variable])
        base = int(url.path.strip("/") or 0)
        os.environ[variable] = url._replace(path=f"/{base + number + 1}").geturl()


def database_url(database: str, tmp_path: Path) -> str:
    """The SQLAlchemy URL of a test database: a file for SQLite, else the service's variable."""
    if database == "sqlite":
        return f"sqlite:///{tmp_path / 'host.sqlite3'}"
    url = sa.make_url(os.environ[SERVICE_VARIABLES[database]])
    url = url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))
    if url.get_backend_name() == "mysql":
        # Chinese text and emoji need four-byte UTF-8 on the connection, not only in the tables.
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url.render_as_string(hide_password=False)


def separate_database(database: str, name: str, tmp_path: Path) -> str:
    """An emptied database called ``name`` on the ``postgres`` or ``mysql`` test server.

    For tests and benchmarks that must not share the configured database with a test run going
    on at the same time. It is created the first time.
    """
    server = sa.make_url(database_url(database, tmp_path))
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if database == "postgres":
                exists = connection.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not exists:
                    connection.execute(sa.text(f"CREATE DATABASE {name}"))
            else:
                connection.execute(
                    sa.text(
                        f"CREATE DATABASE IF NOT EXISTS {name}"
                        " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    )
                )
    finally:
        engine.dispose()
    url = server.set(database=name).render_as_string(hide_password=False)
    reset_database(url)
    return url


def reset_database(url: str) -> None:
    """Drop every table in a server database, so each test starts from an empty schema.

    By name, in one statement: reflecting the whole schema first would cost most of a test's setup.
    """
    if url.startswith("sqlite"):
        return  # each test has its own file
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            names = sa.inspect(connection).get_table_names()
            if not names:
                return
            quote = connection.dialect.identifier_preparer.quote
            tables = ", ".join(quote(name) for name in names)
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text(f"DROP TABLE {tables} CASCADE"))
            else:
                connection.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
                connection.execute(sa.text(f"DROP TABLE {tables}"))
                connection.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
    finally:
        engine.dispose()


def kill_connection(host: Host, victim: Any) -> None:
    """End a DB-API connection from the server side, as a restart or a proxy would."""
    dialect = host.db.engine.dialect.name
    if dialect == "postgresql":
        statement, who = "SELECT pg_terminate_backend(:who)", victim.info.backend_pid
    else:
        statement, who = "KILL :who", victim.thread_id()
    engine = sa.create_engine(host.app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement), {"who": who})
    finally:
        engine.dispose()


@dataclass
class Host:
    """A running host app and handles on what a test may inspect."""

    app: Flask
    db: SQLAlchemy
    webchat: Webchat
    user_model: Any
    redis: Any = None
    redis_prefix: str | None = None
    closed: bool = field(default=False, repr=False)

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

    def close(self) -> None:
        """Return the host's connections and remove its sessions from Redis."""
        if self.closed:
            return
        self.closed = True
        self.app.extensions["webchat"].notifier.close()
        with self.app.app_context():
            for engine in self.db.engines.values():
                engine.dispose()
        if self.redis is not None:
            keys = list(self.redis.scan_iter(f"{self.redis_prefix}*"))
            if keys:
                self.redis.delete(*keys)
            self.redis.close()


#: Event streams opened and not yet closed, with the thread that opened each: a test that fails
#: midway leaves its streams open, and each holds an app context pushed in that thread.
_open_streams: list[tuple[int, TestResponse]] = []


def close_leftover_streams() -> None:
    """Close the streams a test left open, newest first, as their app contexts were pushed.

    Left to the garbage collector, a stream would close whenever and in whatever thread it is
    collected, popping its context out of turn in some later test.
    """
    here = threading.get_ident()
    for opened in reversed(list(_open_streams)):
        if opened[0] == here:
            opened[1].close()
    _open_streams.clear()


class Browser:
    """One browser session talking to the chat under ``prefix``."""

    def __init__(self, client: FlaskClient, prefix: str = "/chat") -> None:
        self.client = client
        self.prefix = prefix

    def open_page(self) -> str:
        """Load the chat page, as a new tab does, and return the tab's stream id.

        A page for a browser the chat does not know yet carries no stream: its script opens
        one with ``POST /streams``, and so does this.
        """
        response = self.client.get(f"{self.prefix}/")
        assert response.status_code == 200, response.data
        match = re.search(r'data-stream="([^"]*)"', response.text)
        assert match, "the chat page has a data-stream attribute"
        return match.group(1) or self.open_stream()

    def open_stream(self, room: str | None = None) -> str:
        """Open a stream with ``POST /streams``, as a client not rendered by the page does."""
        path = f"{self.prefix}/rooms/{room}/streams" if room else f"{self.prefix}/streams"
        response = self.client.post(path)
        assert response.status_code == 201, response.json
        return response.json["stream"]  # type: ignore[index,no-any-return]

    def poll(self, stream: str | None = None, **params: Any) -> dict[str, Any]:
        response = self.poll_response(stream, **params)
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[return-value]

    def poll_response(self, stream: str | None = None, **params: Any) -> TestResponse:
        if stream is not None:
            params["stream"] = stream
        return self.client.get(f"{self.prefix}/messages", query_string=params)

    def events_response(
        self, *, last_event_id: str | None = None, path: str | None = None, **params: Any
    ) -> TestResponse:
        headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
        return self.client.get(
            path or f"{self.prefix}/events", query_string=params, headers=headers, buffered=False
        )

    def events(self, *, last_event_id: str | None = None, **params: Any) -> EventStream:
        """Open ``GET /events``; read it from the thread that opened it."""
        return self.events_for(None, last_event_id=last_event_id, **params)

    def events_for(
        self, path: str | None, *, last_event_id: str | None = None, **params: Any
    ) -> EventStream:
        """Open the event stream at ``path`` (default: the default room's)."""
        response = self.events_response(last_event_id=last_event_id, path=path, **params)
        assert response.status_code == 200, response.get_data()
        assert response.mimetype == "text/event-stream"
        opened = (threading.get_ident(), response)
        _open_streams.append(opened)

        def close() -> None:
            if opened in _open_streams:
                _open_streams.remove(opened)
            response.close()

        return EventStream(chunk_lines(iter(response.response)), close)

    def post(
        self, content: str, username: str | None = "anon", *, key: str | None = None
    ) -> TestResponse:
        body: dict[str, Any] = {"content": content}
        if username is not None:
            body["username"] = username
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.client.post(f"{self.prefix}/messages", json=body, headers=headers)

    def say(self, content: str, username: str | None = "anon") -> int:
        """Post a message that must be accepted; return its id."""
        response = self.post(content, username)
        assert response.status_code == 201, response.json
        return response.json["id"]  # type: ignore[index,no-any-return]

    def delete(self, message_id: int) -> TestResponse:
        return self.client.delete(f"{self.prefix}/messages/{message_id}")

    def edit(self, message_id: int, content: str) -> TestResponse:
        return self.client.patch(f"{self.prefix}/messages/{message_id}", json={"content": content})

    def react(self, message_id: int, emoji: str, *, add: bool = True) -> TestResponse:
        path = f"{self.prefix}/messages/{message_id}/reactions/{emoji}"
        return self.client.open(path, method="PUT" if add else "DELETE")

    def login(self, name: str) -> None:
        assert self.client.post("/login", json={"name": name}).status_code == 204

    def logout(self) -> None:
        assert self.client.post("/logout").status_code == 204


def build_host(
    tmp_path: Path,
    stack: Stack = SQLITE,
    *,
    template_folder: str | None = None,
    register: str | None = None,
    before_webchat: Callable[[Flask], None] | None = None,
    database: str | None = None,
    redis_url: str | None = None,
    fresh: bool = True,
    **config: Any,
) -> Host:
    """Build a host app on an empty database. ``register`` mounts the blueprint by hand there.

    ``database`` and ``redis_url`` replace the stack's services, e.g. with servers a test started.
    ``fresh=False`` keeps what the database holds (another process of the same host built it).

    The caller closes the host (:meth:`Host.close`); the ``make_host`` fixture does it for tests.
    """
    db = SQLAlchemy()
    webchat = Webchat()

    class User(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "users"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(80), unique=True, nullable=False)
        is_moderator = sa.Column(sa.Boolean, default=False, nullable=False)

    url = database or database_url(stack.database, tmp_path)
    if fresh:
        reset_database(url)
    app = Flask("host", template_folder=template_folder)
    app.config.update(TESTING=True, SECRET_KEY="host-secret", SQLALCHEMY_DATABASE_URI=url)
    redis_client, redis_prefix = None, None
    if stack.sessions == "cachelib":
        app.config.update(
            SESSION_TYPE="cachelib",
            SESSION_CACHELIB=FileSystemCache(str(tmp_path / "sessions"), threshold=0),
        )
    elif stack.sessions == "redis":
        import redis

        redis_client = redis.Redis.from_url(redis_url or os.environ[SERVICE_VARIABLES["redis"]])
        # A prefix of its own, so tests never see each other's sessions.
        redis_prefix = f"webchat-test:{secrets.token_hex(6)}:"
        app.config.update(
            SESSION_TYPE="redis", SESSION_REDIS=redis_client, SESSION_KEY_PREFIX=redis_prefix
        )
    elif stack.sessions == "sqlalchemy":
        app.config.update(SESSION_TYPE="sqlalchemy", SESSION_SQLALCHEMY=db)
    elif stack.sessions != "signed-cookie":
        raise ValueError(f"unknown session backend {stack.sessions!r}")
    app.config["SESSION_SERIALIZATION_FORMAT"] = "json"
    # Tests post far faster than people; the rate limit's own tests switch it back on.
    app.config["WEBCHAT_RATE_LIMIT"] = None
    app.config.update(config)

    db.init_app(app)
    if stack.sessions != "signed-cookie":
        Session(app)
    if before_webchat is not None:
        before_webchat(app)  # what a host sets up before the chat, e.g. its own Limiter
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

    @webchat.mention_lookup
    def find_user(name: str) -> User | None:
        return db.session.scalar(sa.select(User).where(User.name == name))

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
    return Host(
        app=app,
        db=db,
        webchat=webchat,
        user_model=User,
        redis=redis_client,
        redis_prefix=redis_prefix,
    )


#: The ``make_host`` fixture: ``make_host(**config)`` builds a host on the test's stack.
MakeHost = Callable[..., Host]
