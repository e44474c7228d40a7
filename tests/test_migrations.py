"""A host that manages its schema with Flask-Migrate gets the chat's tables from the chat's branch.

Each test sets a host up as the "Migrations" page of the docs tells a user to, runs the same
``flask db …`` commands through Flask's CLI runner, and looks at the database, the host's
migrations folder and the chat's HTTP API.
"""

from __future__ import annotations

import logging.config
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_webchat import Webchat
from flask_webchat import migrations as chat_migrations
from flask_webchat.models import metadata
from hosts import SERVICE_VARIABLES, database_url, separate_database

CHAT_TABLES = set(metadata.tables)
#: The newest revision of the chat's branch.
CHAT_HEAD = "webchat_0005"
#: The server databases are shared with the rest of the suite; migrations get one of their own.
MIGRATIONS_DATABASE = "webchat_migrations"

pytestmark = [
    # Flask-Migrate's generated env.py tries Flask-SQLAlchemy's deprecated get_engine() first.
    pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning"),
]

FlaskDb = Callable[..., None]


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a file for SQLite, else ``<test database>_webchat_migrations``."""
    database: str = request.param
    if database == "sqlite":
        return database_url("sqlite", tmp_path)
    variable = SERVICE_VARIABLES[database]
    if not os.environ.get(variable):
        pytest.skip(f"{database} needs {variable} (see docs/contributing.rst)")
    # Named after the configured database, so that runs against different ones stay apart.
    configured = sa.make_url(os.environ[variable]).database
    return separate_database(database, f"{configured}_{MIGRATIONS_DATABASE}", tmp_path)


@pytest.fixture
def flask_db(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[FlaskDb]:
    """Run ``flask db <args>`` on a host app; a failed command fails the test with its error."""
    # The generated env.py configures logging from alembic.ini, as befits a command-line run; in
    # the test process that would disable the loggers of every test that runs after this one.
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)
    shipped = versions_in(chat_migrations.VERSIONS)

    def run(app: Flask, *args: str) -> None:
        caplog.clear()
        result = app.test_cli_runner().invoke(args=["db", *args])
        assert result.exit_code == 0, f"flask db {' '.join(args)}: {caplog.text}{result.output}"

    yield run
    # A regression may write a host's revision into the package (the checkout, in development);
    # left there, it would break every later run.
    for name in versions_in(chat_migrations.VERSIONS) - shipped:
        Path(chat_migrations.VERSIONS, name).unlink()


def migrating_host(url: str, migrations: Path, *, add_location: bool = True) -> Flask:
    """A host with a model of its own, wired to the chat's migrations as the docs show."""
    db = SQLAlchemy()
    migrate = Migrate(
        directory=str(migrations),
        include_name=chat_migrations.include_name,
        process_revision_directives=chat_migrations.process_revision_directives,
    )
    if add_location:
        migrate.configure(chat_migrations.add_version_location)
    webchat = Webchat()

    class Page(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "pages"
        id = sa.Column(sa.Integer, primary_key=True)
        title = sa.Column(sa.String(80), nullable=False)

    app = Flask("host")
    app.config.update(
        TESTING=True,
        SECRET_KEY="host-secret",
        SQLALCHEMY_DATABASE_URI=url,
        WEBCHAT_RATE_LIMIT=None,
    )
    db.init_app(app)
    migrate.init_app(app, db)
    webchat.init_app(app, db=db)
    return app


@pytest.fixture
def host_app(url: str, tmp_path: Path) -> Iterator[Flask]:
    app = migrating_host(url, tmp_path / "migrations")
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"sqlite_sequence"}
    finally:
        engine.dispose()


def versions_in(folder: Path | str) -> set[str]:
    return {path.name for path in Path(folder).glob("*.py")}


def stored_revisions(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def test_upgrade_heads_creates_the_chat_tables_and_the_chat_works(
    host_app: Flask, url: str, flask_db: FlaskDb
) -> None:
    flask_db(host_app, "init")
    flask_db(host_app, "upgrade", "heads")
    assert table_names(url) == CHAT_TABLES | {"alembic_version"}
    assert stored_revisions(url) == {CHAT_HEAD}

    client = host_app.test_client()
    posted = client.post("/chat/messages", json={"content": "hi", "username": "a"})
    assert posted.status_code == 201, posted.json
    read = client.get("/chat/messages", query_string={"after": 0})
    assert read.status_code == 200, read.json
    assert [(m["username"], m["content"]) for m in read.json["messages"]] == [("a", "hi")]


def test_the_migrated_schema_is_the_models_schema(
    host_app: Flask, url: str, flask_db: FlaskDb
) -> None:
    """A change to the models without a new revision in the chat's branch fails here."""
    flask_db(host_app, "init")
    flask_db(host_app, "upgrade", "heads")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_server_default": same_boolean_default,
                    "include_name": lambda name, type_, parents: (
                        type_ != "table" or name in CHAT_TABLES
                    ),
                },
            )
            assert compare_metadata(context, metadata) == []
            # What that comparison does not look at: table options, fractions of a second.
            dialect = connection.dialect
            for table in metadata.sorted_tables:
                options = table_options(connection, table.name)
                assert options == expected_options(table, dialect.name), table.name
                columns = sa.inspect(connection).get_columns(table.name)
                created = {column["name"]: column["type"].compile(dialect) for column in columns}
                for column in table.columns:
                    if isinstance(column.type, sa.DateTime):
                        wanted = column.type.compile(dialect)
                        assert created[column.name] == wanted, f"{table.name}.{column.name}"
    finally:
        engine.dispose()


def same_boolean_default(
    context: object,
    inspected: object,
    column: sa.Column[object],
    inspected_default: str | None,
    metadata_default: object,
    rendered: str | None,
) -> bool | None:
    """Compare server defaults as Alembic does, except MySQL's: it stores ``false`` as ``0``."""
    if isinstance(column.type, sa.Boolean) and rendered == "false":
        return (inspected_default or "").strip("'") not in ("0", "false")
    return None  # Alembic's own comparison


def table_options(connection: sa.Connection, name: str) -> dict[str, object]:
    """The options a created table shows: SQLite's AUTOINCREMENT, MySQL's collation."""
    if connection.dialect.name == "sqlite":
        sql = connection.scalar(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": name},
        )
        return {"autoincrement": "AUTOINCREMENT" in sql}
    if connection.dialect.name in ("mysql", "mariadb"):
        collation = connection.scalar(
            sa.text(
                "SELECT table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = :name"
            ),
            {"name": name},
        )
        return {"collate": collation}
    return {}


def expected_options(table: sa.Table, dialect: str) -> dict[str, object]:
    if dialect == "sqlite":
        return {"autoincrement": bool(table.dialect_options["sqlite"]["autoincrement"])}
    if dialect in ("mysql", "mariadb"):
        return {"collate": table.dialect_options["mysql"]["collate"]}
    return {}


def test_the_hosts_own_migrations_leave_the_chat_tables_to_the_chat(
    host_app: Flask, url: str, tmp_path: Path, flask_db: FlaskDb
) -> None:
    host_versions = tmp_path / "migrations" / "versions"
    shipped = versions_in(chat_migrations.VERSIONS)
    flask_db(host_app, "init")
    flask_db(host_app, "upgrade", "heads")

    flask_db(host_app, "migrate", "-m", "create pages")
    [created] = versions_in(host_versions)
    script = (host_versions / created).read_text()
    assert "op.create_table('pages'" in script
    assert "webchat" not in script, "the host's revision must neither drop nor base on the chat's"
    assert versions_in(chat_migrations.VERSIONS) == shipped, "nothing is written into the package"

    flask_db(host_app, "upgrade", "heads")
    assert table_names(url) == CHAT_TABLES | {"pages", "alembic_version"}
    flask_db(host_app, "migrate", "-m", "nothing changed")
    assert versions_in(host_versions) == {created}, "an unchanged schema gives no revision"

    flask_db(host_app, "downgrade", f"{chat_migrations.BRANCH}@base")
    assert table_names(url) == {"pages", "alembic_version"}
    assert stored_revisions(url) == {created.partition("_")[0]}


def test_tables_made_by_create_tables_are_stamped_into_the_branch(
    tmp_path: Path, flask_db: FlaskDb
) -> None:
    """A site that had the chat before it used migrations records the tables it already has."""
    url = database_url("sqlite", tmp_path)
    app = migrating_host(url, tmp_path / "migrations")
    assert app.test_cli_runner().invoke(args=["webchat", "create-tables"]).exit_code == 0
    flask_db(app, "init")
    flask_db(app, "stamp", f"{chat_migrations.BRANCH}@head")
    flask_db(app, "upgrade", "heads")
    assert stored_revisions(url) == {CHAT_HEAD}
    assert table_names(url) == CHAT_TABLES | {"alembic_version"}


def test_the_chat_location_may_be_named_in_alembic_ini(tmp_path: Path, flask_db: FlaskDb) -> None:
    url = database_url("sqlite", tmp_path)
    migrations = tmp_path / "migrations"
    app = migrating_host(url, migrations, add_location=False)
    flask_db(app, "init")
    ini = migrations / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "[alembic]\n",
            "[alembic]\npath_separator = space\n"
            "version_locations = %(here)s/versions flask_webchat.migrations:versions\n",
            1,
        )
    )
    flask_db(app, "upgrade", "heads")
    flask_db(app, "migrate", "-m", "create pages")
    assert len(versions_in(migrations / "versions")) == 1
    flask_db(app, "upgrade", "heads")
    assert table_names(url) == CHAT_TABLES | {"pages", "alembic_version"}


def test_upgrading_a_populated_database_marks_its_messages_as_posted_by_people(
    host_app: Flask, url: str, flask_db: FlaskDb
) -> None:
    """A site on the first revision, with messages, upgrades to system messages and keeps them."""
    flask_db(host_app, "init")
    flask_db(host_app, "upgrade", "webchat_0001")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO webchat_rooms (name, last_seq, created_at, message_count)"
                    " VALUES ('lobby', 1, CURRENT_TIMESTAMP, 1)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO webchat_messages (room_id, seq, username, content, created_at)"
                    " SELECT id, 1, 'ann', 'from before', CURRENT_TIMESTAMP FROM webchat_rooms"
                )
            )
    finally:
        engine.dispose()
    flask_db(host_app, "upgrade", "heads")
    assert stored_revisions(url) == {CHAT_HEAD}

    client = host_app.test_client()
    read = client.get("/chat/messages", query_string={"after": 0})
    assert [(m["content"], m["system"]) for m in read.json["messages"]] == [("from before", False)]
    # The post keys' table came too: a repeated post is stored once.
    keyed = {"json": {"content": "after", "username": "a"}, "headers": {"Idempotency-Key": "k"}}
    first = client.post("/chat/messages", **keyed)
    assert client.post("/chat/messages", **keyed).json == first.json
    # And the read positions' table: the message from before is unread until marked.
    assert client.get("/chat/rooms").json["rooms"][0]["unread"] == 1
    assert client.post("/chat/read", json={"cursor": "1"}).json["unread"] == 0

    flask_db(host_app, "downgrade", "webchat_0001")
    engine = sa.create_engine(url)
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns("webchat_messages")}
        with engine.connect() as connection:
            kept = connection.scalars(sa.text("SELECT content FROM webchat_messages")).all()
            options = table_options(connection, "webchat_messages")
    finally:
        engine.dispose()
    assert "system" not in columns and kept == ["from before", "after"]
    assert options == expected_options(metadata.tables["webchat_messages"], engine.dialect.name)


def test_upgrading_a_populated_database_keeps_its_messages_editable_and_reactable(
    host_app: Flask, url: str, flask_db: FlaskDb
) -> None:
    """A site on webchat_0003 with messages upgrades to edits, replies and reactions."""
    flask_db(host_app, "init")
    flask_db(host_app, "upgrade", "webchat_0003")
    client = host_app.test_client()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO webchat_rooms (name, last_seq, created_at, message_count)"
                    " VALUES ('old', 2, CURRENT_TIMESTAMP, 2)"
                )
            )
            for seq, text in ((1, "first 👍"), (2, "second 汉字")):
                connection.execute(
                    sa.text(
                        "INSERT INTO webchat_messages"
                        " (room_id, seq, username, content, created_at, system)"
                        " SELECT id, :seq, 'ann', :text, CURRENT_TIMESTAMP, :no"
                        " FROM webchat_rooms WHERE name = 'old'"
                    ),
                    {"seq": seq, "text": text, "no": False},
                )
    finally:
        engine.dispose()
    flask_db(host_app, "upgrade", "heads")
    assert stored_revisions(url) == {CHAT_HEAD}

    read = client.get("/chat/rooms/old/messages", query_string={"after": 0}).json
    old = read["messages"]
    assert [(m["content"], m["edited_at"], m["reply_to"], m["reactions"]) for m in old] == [
        ("first 👍", None, None, []),
        ("second 汉字", None, None, []),
    ]
    reacted = client.put(f"/chat/rooms/old/messages/{old[0]['id']}/reactions/👍")
    assert reacted.status_code == 200, reacted.json
    reply = client.post(
        "/chat/rooms/old/messages",
        json={"content": "answer", "username": "bob", "reply_to": old[1]["id"]},
    )
    assert reply.json["reply_to"] == {
        "id": old[1]["id"],
        "username": "ann",
        "excerpt": "second 汉字",
    }
    after = client.get("/chat/rooms/old/messages", query_string={"after": read["cursor"]}).json
    assert [m["reactions"] for m in after["updated"]] == [
        [{"emoji": "👍", "count": 1, "mine": True}]
    ]

    flask_db(host_app, "downgrade", "webchat_0003")
    engine = sa.create_engine(url)
    try:
        names = set(sa.inspect(engine).get_table_names())
        columns = {c["name"] for c in sa.inspect(engine).get_columns("webchat_messages")}
        with engine.connect() as connection:
            kept = connection.scalars(
                sa.text("SELECT content FROM webchat_messages ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert "webchat_reactions" not in names and "webchat_updates" not in names
    assert "edited_at" not in columns and "reply_to_id" not in columns
    assert kept[:2] == ["first 👍", "second 汉字"]
