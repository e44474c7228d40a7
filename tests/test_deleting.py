"""Deleting: only authors (and whoever the host allows), and a deleted message is gone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flask_webchat.models import metadata
from hosts import EVERY_DATABASE, Browser, Host

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def test_an_author_deletes_their_message_and_its_content_is_gone(
    host: Host, browser: Browser
) -> None:
    kept = browser.say("keep me")
    doomed = browser.say("secret I regret")
    response = browser.delete(doomed)
    assert response.status_code == 204
    assert response.data == b""

    assert browser.client.get(f"/chat/messages/{doomed}").status_code == 404
    assert [m.id for m in host.stored_messages()] == [kept]
    with host.app.app_context():
        for table in metadata.sorted_tables:
            rows = host.db.session.execute(sa.select(table)).all()
            assert "secret I regret" not in repr(rows), table.name


def test_someone_elses_message_is_403_and_stays(host: Host) -> None:
    author, stranger = host.browser(), host.browser()
    message = author.say("mine")
    response = stranger.delete(message)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert [m.id for m in host.stored_messages()] == [message]
    assert stranger.client.get(f"/chat/messages/{message}").json["can_delete"] is False


def test_an_unknown_message_is_404(browser: Browser) -> None:
    for path in ("/chat/messages/12345", "/chat/messages/99999999999999999999999"):
        for method in ("GET", "DELETE"):
            response = browser.client.open(path, method=method)
            assert response.status_code == 404, (method, path)
            assert response.json["error"]["code"] == "message_not_found"


def test_deleting_twice_is_404_the_second_time(browser: Browser) -> None:
    message = browser.say("once")
    assert browser.delete(message).status_code == 204
    assert browser.delete(message).status_code == 404


def test_a_signed_in_author_may_delete_from_another_browser(host: Host) -> None:
    host.add_user("alice")
    laptop, phone = host.browser(), host.browser()
    laptop.login("alice")
    phone.login("alice")
    message = laptop.say("from my laptop")
    assert phone.client.get(f"/chat/messages/{message}").json["mine"] is True
    assert phone.delete(message).status_code == 204


def test_a_signed_in_user_may_not_delete_another_users_message(host: Host) -> None:
    host.add_user("alice")
    host.add_user("bob")
    alice, bob = host.browser(), host.browser()
    alice.login("alice")
    bob.login("bob")
    message = alice.say("alice's")
    assert bob.delete(message).status_code == 403


def test_the_hosts_permission_hook_lets_moderators_delete(host: Host) -> None:
    host.add_user("mod", moderator=True)
    author, moderator = host.browser(), host.browser()
    moderator.login("mod")
    message = author.say("spam")
    assert moderator.client.get(f"/chat/messages/{message}").json["can_delete"] is True
    assert moderator.delete(message).status_code == 204
    assert host.stored_messages() == []


def test_an_anonymous_author_keeps_their_right_after_signing_in(host: Host) -> None:
    host.add_user("alice")
    browser = host.browser()
    message = browser.say("posted before signing in")
    browser.login("alice")
    assert browser.delete(message).status_code == 204
