"""The example site's users: Flask-Login, demo accounts, and the chat hooks that use them.

Demo users sign in with one click (no passwords: this is a demonstration). Without Flask-Login
installed the site still runs, with guests only, and its home page says how to add sign-in.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, redirect, request, url_for
from sqlalchemy.exc import IntegrityError

try:
    import flask_login
except ImportError:  # the package alone: guests only
    flask_login = None

#: The room only signed-in users may read.
MEMBERS_ROOM = "members"
#: The demo users, made with the database: (name, moderator?).
DEMO_USERS = [("Ana", True), ("Bo", False), ("Chen", False)]
WELCOME = (
    "Welcome to the example chat! Chat as a guest, or sign in as one of the demo users:"
    " Ana moderates, and #members is for signed-in users only."
)


def init_app(app: Flask, db: Any, webchat: Any) -> None:
    """Add the users table, Flask-Login (if installed), the sign-in routes and the chat hooks."""
    user_model = _user_model(db)
    app.extensions["example_users"] = user_model
    app.jinja_env.globals.update(sign_in_available=flask_login is not None, demo_users=DEMO_USERS)
    if flask_login is None:
        return
    login_manager = flask_login.LoginManager(app)
    bp = Blueprint("accounts", __name__)  # one per app: the tests build several

    @login_manager.user_loader
    def load_user(user_id: str) -> Any:
        return db.session.get(user_model, int(user_id))

    @webchat.identity_loader
    def current_identity() -> Any:
        return flask_login.current_user  # anonymous counts as nobody

    @webchat.moderator_permission
    def moderators(room: str, identity: Any) -> bool:
        return identity is not None and identity.user.is_moderator

    @webchat.read_permission
    def members_only(room: str, identity: Any) -> bool:
        return room != MEMBERS_ROOM or identity is not None

    @webchat.mention_lookup
    def mentioned(name: str) -> Any:
        # "@bo" finds Bo: names are matched as people type them, in any case.
        return db.session.scalar(
            sa.select(user_model).where(sa.func.lower(user_model.name) == name.lower())
        )

    @bp.post("/sign-in/<name>")
    def sign_in(name: str) -> Any:
        user = db.session.scalar(sa.select(user_model).where(user_model.name == name))
        if user is None:
            abort(404)
        flask_login.login_user(user)
        return redirect(_back())

    @bp.post("/sign-out")
    def sign_out() -> Any:
        flask_login.logout_user()
        return redirect(_back())

    app.register_blueprint(bp)


def welcome_once(db: Any, webchat: Any, welcome: str | None) -> None:
    """Make the demo users and post the welcome notice, the first time the database is made.

    One transaction for both, joined by the post (``commit=False``): when several processes
    start on a new database at once, one makes the users, and the others' transactions, which
    would duplicate them, roll back, welcome and all, so the notice is posted exactly once.
    """
    user_model = _user_model(db)
    if db.session.scalar(sa.select(sa.func.count()).select_from(user_model)):
        db.session.rollback()
        return
    if welcome:
        webchat.post_message(welcome, system=True, commit=False)
    db.session.add_all(user_model(name=name, is_moderator=mod) for name, mod in DEMO_USERS)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another process made them first, and posted the welcome


def _back() -> str:
    # Back to the page the button was on; only paths of this site.
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else url_for("home")


_models: dict[int, Any] = {}


def _user_model(db: Any) -> Any:
    # One User class per SQLAlchemy object (the tests build several apps in one process).
    if id(db) not in _models:
        mixin: tuple[type, ...] = (flask_login.UserMixin,) if flask_login is not None else ()

        class User(db.Model, *mixin):  # type: ignore[misc,name-defined]
            __tablename__ = "users"
            id = sa.Column(sa.Integer, primary_key=True)
            name = sa.Column(sa.String(80), unique=True, nullable=False)
            is_moderator = sa.Column(sa.Boolean, default=False, nullable=False)

        _models[id(db)] = User
    return _models[id(db)]
