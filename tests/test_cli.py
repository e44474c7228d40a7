"""``flask webchat …``: what a site's operator runs, with exit codes a script can rely on."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

import flask_webchat.purging
from flask_webchat import Identity, MessageRejected
from flask_webchat.models import ChatMessage, ChatReaction, utcnow
from hosts import EVERY_DATABASE, SAMPLE_STACKS, Browser, Host

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def run(host: Host, *args: str) -> tuple[int, str]:
    result = host.app.test_cli_runner().invoke(args=["webchat", *args])
    return result.exit_code, result.output


def age(host: Host, message_ids: list[int], days: int) -> None:
    """Make these messages look ``days`` old."""
    with host.app.app_context():
        host.db.session.execute(
            sa.update(ChatMessage)
            .where(ChatMessage.id.in_(message_ids))
            .values(created_at=utcnow() - timedelta(days=days))
        )
        host.db.session.commit()


def room_say(browser: Browser, room: str, content: str) -> int:
    response = browser.client.post(
        f"/chat/rooms/{room}/messages", json={"content": content, "username": "ann"}
    )
    assert response.status_code == 201
    return response.json["id"]  # type: ignore[index,no-any-return]


def test_stats_lists_rooms_with_their_messages(host: Host) -> None:
    code, output = run(host, "stats")
    assert (code, output.splitlines()[-1]) == (0, "0 room(s), 0 message(s).")
    ann = host.browser()
    old = ann.say("old")
    ann.say("new")
    room_say(ann, "team-a", "elsewhere")
    age(host, [old], days=40)
    code, output = run(host, "stats", "--json")
    assert code == 0
    report = json.loads(output)
    assert report["messages"] == 3
    (lobby,) = [room for room in report["rooms"] if room["room"] == "lobby"]
    assert lobby["messages"] == 2
    assert lobby["oldest"] < lobby["newest"]
    code, output = run(host, "stats")
    assert "lobby" in output and "team-a" in output
    assert output.splitlines()[-1] == "2 room(s), 3 message(s)."


def test_purge_removes_old_messages_and_readers_see_them_go(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flask_webchat.purging, "BATCH", 2)  # several batches
    ann, bo = host.browser(), host.browser()
    old = [ann.say(f"old {n}") for n in range(5)]
    kept = ann.say("recent")
    in_other_room = room_say(ann, "team-a", "old elsewhere")
    age(host, [*old, in_other_room], days=40)
    stream = bo.open_page()
    assert len(bo.poll(stream)["messages"]) == 6

    code, output = run(host, "purge", "--older-than", "30d", "--dry-run")
    assert code == 0
    assert output.splitlines()[0] == "Would remove 6 messages from 2 room(s)."
    assert len(host.stored_messages()) == 7

    code, output = run(host, "purge", "--older-than", "30d", "--room", "lobby")
    assert code == 0
    assert output.splitlines()[0] == "Removed 5 messages from 1 room(s)."
    assert sorted(m.id for m in host.stored_messages()) == sorted([kept, in_other_room])
    # The reader's next poll lists each purged message as deleted, once.
    batch = bo.poll(stream)
    assert sorted(batch["deleted"]) == sorted(old)
    assert bo.poll(stream)["deleted"] == []
    rooms = {r["name"]: r["messages"] for r in ann.client.get("/chat/rooms").json["rooms"]}
    assert rooms == {"lobby": 1, "team-a": 1}

    code, output = run(host, "purge", "--older-than", "30d")
    assert (code, output.splitlines()[0]) == (0, "Removed 1 message from 1 room(s).")
    code, output = run(host, "purge", "--older-than", "30d")
    assert (code, output.splitlines()[0]) == (0, "Removed 0 messages from 0 room(s).")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--older-than", "soon"], "not a duration"),
        (["--older-than", "30x"], "not a duration"),
        (["--older-than", "999999w"], "reaches back before the year 1"),
        ([], "Missing option '--older-than'"),
        (["--older-than", "30d", "--room", "nowhere"], "There is no room 'nowhere'"),
        (["--older-than", "30d", "--room", "Bad Name"], "A room name is"),
    ],
)
def test_purge_refuses_bad_arguments_with_exit_code_2(
    host: Host, args: list[str], complaint: str
) -> None:
    host.browser().say("stays")
    code, output = run(host, "purge", *args)
    assert code == 2
    assert complaint in output
    assert len(host.stored_messages()) == 1


def test_post_puts_a_notice_or_a_named_message_where_readers_see_it(host: Host) -> None:
    reader = host.browser()
    stream = reader.open_page()
    reader.poll(stream)
    code, output = run(host, "post", "Deploy finished")
    [notice] = host.stored_messages()
    assert (code, output) == (0, f"Posted message {notice.id} to lobby.\n")
    code, output = run(host, "post", "--as", "Ops team", "--room", "team-a", "Back in 5")
    assert code == 0 and output.endswith("to team-a.\n")
    code, _ = run(host, "post", "--system", "  Maintenance at noon  ")
    assert code == 0
    shown = reader.poll(stream)["messages"]
    assert [(m["content"], m["system"], m["username"]) for m in shown] == [
        ("Deploy finished", True, ""),
        ("Maintenance at noon", True, ""),
    ]
    stored = [(m.content, m.username, m.system) for m in host.stored_messages()]
    assert stored[1] == ("Back in 5", "Ops team", False)


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--system", "--as", "Ann", "hi"], "not both"),
        (["   "], "A message cannot be empty."),
        (["x" * 1025], "at most 1024 characters"),
        (["--as", "n" * 65, "hi"], "A name can be at most 64"),
        (["--room", "Bad Name", "hi"], "A room name is"),
        ([], "Missing argument 'TEXT'"),
    ],
)
def test_post_refuses_bad_arguments_with_exit_code_2(
    host: Host, args: list[str], complaint: str
) -> None:
    code, output = run(host, "post", *args)
    assert code == 2
    assert complaint in output
    assert host.stored_messages() == []


def test_post_goes_through_the_hosts_message_filters(host: Host) -> None:
    @host.webchat.message_filter
    def no_links(content: str, room: str, identity: Identity | None) -> str:
        if "://" in content:
            raise MessageRejected("No links, please.")
        return content

    @host.webchat.message_filter
    def mask(content: str, room: str, identity: Identity | None) -> str:
        return content.replace("darn", "****")

    code, output = run(host, "post", "--as", "Ops", "see https://spam.example")
    assert code == 2
    assert "No links, please." in output
    assert host.stored_messages() == []
    code, _ = run(host, "post", "The darn deploy finished")
    assert code == 0
    assert [m.content for m in host.stored_messages()] == ["The **** deploy finished"]


def test_purging_a_parent_updates_the_replies_that_stay(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    parent = ann.say("old secret")
    ann.react(parent, "👍")
    reply = bo.client.post(
        "/chat/messages", json={"content": "noted", "username": "bo", "reply_to": parent}
    ).json["id"]
    age(host, [parent], days=40)
    stream = bo.open_page()
    bo.poll(stream)
    assert run(host, "purge", "--older-than", "30d")[0] == 0
    batch = bo.poll(stream)
    assert batch["deleted"] == [parent]
    assert [(m["id"], m["reply_to"]) for m in batch["updated"]] == [
        (reply, {"id": parent, "username": None, "excerpt": None})
    ]
    with host.app.app_context():
        assert host.db.session.scalars(sa.select(ChatReaction)).all() == []
