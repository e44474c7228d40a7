"""A host program that uses the chat's Python API, signals and a content filter, fully typed.

tests/test_host_api.py checks it with ``mypy --strict`` against the installed package and runs it:
``python docs/examples/typed_host.py`` prints what it did.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_webchat import Identity, MessageRejected, Webchat, WebchatError
from flask_webchat.batches import Batch
from flask_webchat.errors import Forbidden
from flask_webchat.models import ChatMessage, ChatRoom
from flask_webchat.schemas import MessageSchema
from flask_webchat.signals import message_deleted, message_posted

db = SQLAlchemy()
webchat = Webchat()
MASKED = re.compile(r"\bdarn\b", re.IGNORECASE)


@webchat.message_filter
def mask_words(content: str, room: str, identity: Identity | None) -> str:
    return MASKED.sub(lambda word: "*" * len(word.group()), content)


@webchat.message_filter
def no_links_from_guests(content: str, room: str, identity: Identity | None) -> str:
    if identity is None and "://" in content:
        raise MessageRejected("Sign in to post links.")
    return content


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="change me", SQLALCHEMY_DATABASE_URI="sqlite://")
    db.init_app(app)
    webchat.init_app(app, db=db)
    with app.app_context():
        db.create_all()
    return app


def relay(batch: Batch) -> list[str]:
    """What a bridge to another chat would send on."""
    lines = [f"{message.username or 'notice'}: {message.content}" for message in batch.messages]
    return lines + [f"deleted {deletion.message_id}" for deletion in batch.deletions]


def main() -> None:
    app = create_app()
    heard: list[str] = []

    @message_posted.connect_via(app)
    def posted(
        sender: Flask, *, message: ChatMessage, room: str, identity: Identity | None
    ) -> None:
        heard.append(f"posted {message.id} to {room}")

    def deleted(sender: Flask, **changed: object) -> None:
        heard.append(f"deleted in {changed['room']}")

    message_deleted.connect(deleted, sender=app, weak=False)

    with app.app_context():
        notice: ChatMessage = webchat.post_message("Deploy finished", system=True)
        webchat.edit_message(notice.id, "Deploy finished at 14:02")
        guest = webchat.post_message("It's darn slow", username="Al", room="support")
        ann = webchat.post_message("On it", user=Identity("7", "Ann", None), room="support")
        try:
            webchat.post_message("see https://spam.example", username="spammer")
        except WebchatError as error:
            print("refused:", error.status, error.code, error.message)
        try:
            webchat.delete_message(ann.id, user=Identity("8", "Bo", None))
        except Forbidden as error:
            print("refused:", error.status, error.code)
        gone: ChatMessage = webchat.delete_message(guest.id)
        print("deleted:", gone.content)
        print(MessageSchema().dump(webchat.get_message(ann.id))["content"])
        # The way that works without the API: the message takes the room's next position.
        support = db.session.scalars(sa.select(ChatRoom).where(ChatRoom.name == "support")).one()
        db.session.add(ChatMessage(room_id=support.id, username="bot", content="Added"))
        db.session.commit()
        counts = webchat.unread_counts(Identity("8", "Bo", None), rooms=["lobby", "support"])
        print({name: unread.label for name, unread in counts.items()})
        cursor: int = 0
        for room in ("lobby", "support"):
            batch = webchat.read_messages(room, after=cursor, limit=10)
            print(room, relay(batch), batch.cursor, batch.more)
    print(*heard, sep="\n")


if __name__ == "__main__":
    main()
