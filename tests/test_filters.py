"""The content hook: the host masks or refuses text before it is stored, however it is posted."""

from __future__ import annotations

import re

import pytest

from flask_webchat import Identity, MessageRejected
from hosts import SAMPLE_STACKS, Host

# Behaviour decided before storage, the same on every database and session backend.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS)


@pytest.fixture
def filtered(host: Host) -> list[tuple[str, str, str | None]]:
    """The host masks "darn", refuses links, and records what each filter saw."""
    seen: list[tuple[str, str, str | None]] = []

    @host.webchat.message_filter
    def no_links(content: str, room: str, identity: Identity | None) -> str:
        seen.append((content, room, identity.name if identity else None))
        if re.search(r"https?://", content):
            raise MessageRejected("Links are not allowed in this chat.")
        return content

    @host.webchat.message_filter
    def mask(content: str, room: str, identity: Identity | None) -> str:
        return re.sub(r"(?i)darn", lambda word: "*" * len(word.group()), content)

    return seen


def test_a_filter_masks_what_is_stored_and_shown(
    host: Host, filtered: list[tuple[str, str, str | None]]
) -> None:
    host.add_user("ann")
    ann = host.browser()
    ann.login("ann")
    response = ann.post("  Darn it  ", username=None)
    assert response.status_code == 201
    assert response.json["content"] == "**** it"
    assert [m.content for m in host.stored_messages()] == ["**** it"]
    assert filtered == [("Darn it", "lobby", "ann")]  # after validation: stripped


def test_a_refusal_answers_422_message_rejected_and_stores_nothing(
    host: Host, filtered: list[tuple[str, str, str | None]]
) -> None:
    response = host.browser().client.post(
        "/chat/rooms/team/messages", json={"content": "see http://spam.example", "username": "x"}
    )
    assert response.status_code == 422
    assert response.json == {
        "error": {
            "status": 422,
            "code": "message_rejected",
            "message": "Links are not allowed in this chat.",
        }
    }
    assert host.stored_messages() == []
    assert filtered == [("see http://spam.example", "team", None)]


def test_filters_run_in_order_for_the_python_api(
    host: Host, filtered: list[tuple[str, str, str | None]]
) -> None:
    # Appending does not commute: "ab" shows each filter got the previous one's text, in order.
    @host.webchat.message_filter
    def append_a(content: str, room: str, identity: Identity | None) -> str:
        return content + "a"

    @host.webchat.message_filter
    def append_b(content: str, room: str, identity: Identity | None) -> str:
        return content + "b"

    with host.app.app_context():
        assert host.webchat.post_message("darn", system=True).content == "****ab"
        assert host.webchat.post_message("ok", username="bo").content == "okab"
        with pytest.raises(MessageRejected, match="Links are not allowed"):
            host.webchat.post_message("https://x.example", system=True)
    assert [m.content for m in host.stored_messages()] == ["****ab", "okab"]


def test_text_a_filter_empties_is_invalid(host: Host) -> None:
    @host.webchat.message_filter
    def drop_everything(content: str, room: str, identity: Identity | None) -> str:
        return ""

    response = host.browser().post("anything")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_fields"
    assert "content" in response.json["error"]["fields"]
    assert host.stored_messages() == []
