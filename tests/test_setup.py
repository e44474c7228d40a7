"""Installing the chat in a host: mounting, tables, configuration, errors under the prefix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_webchat import Webchat
from flask_webchat.config import DEFAULTS
from hosts import SAMPLE_STACKS, Browser, MakeHost, build_host

# Behaviour decided before storage, the same on every database and session backend.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS)

CHAT_TABLES = {
    "webchat_rooms",
    "webchat_messages",
    "webchat_deletions",
    "webchat_streams",
    "webchat_post_keys",
    "webchat_read_positions",
    "webchat_updates",
    "webchat_reactions",
}


def test_the_model_imports_before_any_app_exists() -> None:
    code = (
        "from flask_webchat.models import ChatMessage\n"
        "from flask_webchat.schemas import MessageSchema, NewMessageSchema\n"
        "print(ChatMessage.__tablename__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "webchat_messages"


def test_create_all_creates_the_hosts_and_the_chats_tables(make_host: MakeHost) -> None:
    host = make_host()
    with host.app.app_context():
        # Besides Flask-Session's own table when sessions live in the database.
        tables = set(sa.inspect(host.db.engine).get_table_names()) - {"sessions"}
        assert tables == CHAT_TABLES | {"users"}
        host.db.drop_all()
        assert sa.inspect(host.db.engine).get_table_names() == []


def test_the_cli_creates_the_tables(tmp_path: Path) -> None:
    db = SQLAlchemy()
    app = Flask("bare")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    db.init_app(app)
    Webchat(app, db=db)
    result = app.test_cli_runner().invoke(args=["webchat", "create-tables"])
    assert result.exit_code == 0, result.output
    assert "webchat_messages" in result.output
    with app.app_context():
        assert set(sa.inspect(db.engine).get_table_names()) == CHAT_TABLES


def test_the_blueprint_mounts_at_the_configured_prefix(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_URL_PREFIX="/talk/")
    browser = Browser(host.app.test_client(), prefix="/talk")
    tab = browser.open_page()
    browser.say("hello")
    assert browser.poll(tab)["messages"][0]["content"] == "hello"
    assert host.app.test_client().get("/chat/").status_code == 404


def test_a_host_can_register_the_blueprint_itself(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_REGISTER_BLUEPRINT=False, register="/support")
    browser = Browser(host.app.test_client(), prefix="/support")
    tab = browser.open_page()
    response = browser.post("help!")
    assert response.headers["Location"].startswith("/support/messages/")
    assert browser.poll(tab)["messages"][0]["content"] == "help!"
    unknown = browser.client.get("/support/nothing-here")
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "unknown_route"
    assert browser.client.get("/chat/").status_code == 404


def test_the_extension_can_take_the_app_in_its_constructor(tmp_path: Path) -> None:
    db = SQLAlchemy()
    app = Flask("direct")
    app.config.update(SECRET_KEY="k", SQLALCHEMY_DATABASE_URI="sqlite://")
    db.init_app(app)
    webchat = Webchat(app, db=db)
    assert app.extensions["webchat"].extension is webchat
    assert app.config["WEBCHAT_BACKLOG"] == DEFAULTS["WEBCHAT_BACKLOG"]


def test_init_app_without_db_says_what_is_missing() -> None:
    with pytest.raises(TypeError, match="db=db"):
        Webchat().init_app(Flask("no_db"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WEBCHAT_BACKLOG", -1),
        ("WEBCHAT_POLL_LIMIT", "100"),
        ("WEBCHAT_DEFAULT_ROOM", "Not A Room!"),
        ("WEBCHAT_POLL_INTERVAL", 0),
        ("WEBCHAT_POLL_INTERVAL", "abc"),
        ("WEBCHAT_POLL_INTERVAL", float("nan")),
        ("WEBCHAT_POLL_INTERVAL", float("inf")),
        ("WEBCHAT_USER_NAME_ATTRIBUTE", 42),
        ("WEBCHAT_STREAM_TTL", 5),
        ("WEBCHAT_TRANSPORT", "websocket"),
        ("WEBCHAT_MAX_WAIT", 0),
        ("WEBCHAT_HEARTBEAT", -1),
        ("WEBCHAT_FALLBACK_POLL", "fast"),
        ("WEBCHAT_NOTIFIER", "pigeon"),
        ("WEBCHAT_NOTIFIER", "redis"),  # without WEBCHAT_NOTIFIER_URL
        ("WEBCHAT_NOTIFIER", "postgres"),  # on SQLite
    ],
)
def test_bad_configuration_fails_at_startup(key: str, value: object) -> None:
    db = SQLAlchemy()
    app = Flask("bad_config")
    app.config.update({"SQLALCHEMY_DATABASE_URI": "sqlite://", key: value})
    db.init_app(app)
    with pytest.raises(ValueError, match=key):
        Webchat().init_app(app, db=db)


def test_routing_errors_under_the_prefix_are_json(browser: Browser) -> None:
    unknown = browser.client.get("/chat/no/such/page")
    assert unknown.status_code == 404
    assert unknown.json["error"] == {
        "status": 404,
        "code": "unknown_route",
        "message": unknown.json["error"]["message"],
    }
    wrong_method = browser.client.put("/chat/messages", json={})
    assert wrong_method.status_code == 405
    assert wrong_method.json["error"]["code"] == "method_not_allowed"
    assert set(wrong_method.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert browser.client.put("/chat/messages/1").status_code == 405
    for answer in [unknown, wrong_method]:  # no cache keeps an error of the chat's URLs
        assert answer.headers["Cache-Control"] == "no-store"


def test_an_error_no_handler_took_is_the_chats_internal_error(make_host: MakeHost) -> None:
    host = make_host()
    host.app.config["TESTING"] = False  # answer as in production, not by raising into the test

    @host.app.after_request
    def broken(response: Any) -> Any:  # a host hook that fails after the chat's view
        raise RuntimeError("the host's bug")

    answer = host.browser().client.get("/chat/rooms")
    assert answer.status_code == 500
    assert answer.json["error"]["code"] == "internal_error"  # as documented
    assert b"Traceback" not in answer.data and b"the host's bug" not in answer.data


def test_the_hosts_own_pages_keep_their_own_errors(browser: Browser) -> None:
    response = browser.client.get("/chatroom")  # shares a prefix, but is not under /chat/
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert browser.client.get("/elsewhere").mimetype == "text/html"


def test_an_unexpected_error_is_a_json_500_without_traceback(make_host: MakeHost) -> None:
    host = make_host()

    @host.webchat.identity_loader
    def broken_loader() -> object:
        raise RuntimeError("host bug")

    response = host.browser().post("hi")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "Traceback" not in response.text and "host bug" not in response.text


def test_a_database_outage_is_a_json_503(tmp_path: Path) -> None:
    host = build_host(tmp_path)
    with host.app.app_context():
        host.db.engine.dispose()
    database = tmp_path / "host.sqlite3"
    database.unlink()
    database.mkdir()  # SQLite can no longer open it
    response = host.browser().post("hi")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
