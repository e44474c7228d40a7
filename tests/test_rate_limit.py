"""Posting and deleting are rate limited per writer; over the limit is a 429 that stores nothing."""

from __future__ import annotations

import logging
import sys

import pytest
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from flask_webchat.config import DEFAULTS
from flask_webchat.web.ratelimit import ADDRESS_SHARE
from hosts import EVERY_DATABASE, SAMPLE_STACKS, MakeHost

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


def test_over_the_limit_a_post_is_429_with_retry_after_and_stores_nothing(
    make_host: MakeHost,
) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="3/minute")
    flooder, neighbour = host.browser(), host.browser()
    flooder.open_page()  # a browser has its session from the page before it posts
    first = flooder.say("one")
    flooder.say("two")
    assert flooder.delete(first).status_code == 204  # deletes count too

    refused = flooder.post("four")
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert (
        refused.json["error"]["message"] == "Too many messages; wait a moment before sending more."
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= 61  # a one-minute window, rounded up
    assert flooder.delete(first + 1).status_code == 429
    assert [m.content for m in host.stored_messages()] == ["two"]

    assert neighbour.post("hello").status_code == 201  # another writer has their own count
    assert flooder.poll_response().status_code == 200  # reading is never limited


def test_a_signed_in_user_has_one_count_across_browsers(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2/minute")
    host.add_user("alice")
    laptop, phone = host.browser(), host.browser()
    laptop.login("alice")
    phone.login("alice")
    laptop.say("from the laptop", None)
    phone.say("from the phone", None)
    assert phone.post("one too many", None).status_code == 429


def test_the_default_limit_is_twenty_a_minute(make_host: MakeHost) -> None:
    assert DEFAULTS["WEBCHAT_RATE_LIMIT"] == "20/minute"
    host = make_host(WEBCHAT_RATE_LIMIT=DEFAULTS["WEBCHAT_RATE_LIMIT"])
    browser = host.browser()
    browser.open_page()
    for n in range(20):
        browser.say(f"message {n}")
    assert browser.post("the 21st").status_code == 429


def test_the_hosts_own_limiter_counts_the_chat_too(make_host: MakeHost) -> None:
    from flask import Flask

    limiter = Limiter(get_remote_address, storage_uri="memory://")

    def host_first(app: Flask) -> None:
        limiter.init_app(app)

    host = make_host(WEBCHAT_RATE_LIMIT="1/minute", before_webchat=host_first)
    assert host.app.extensions["webchat"].rate_limiter is limiter
    browser = host.browser()
    browser.open_page()
    browser.say("one")
    refused = browser.post("two")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"]


def test_without_flask_limiter_nothing_is_limited_and_a_warning_says_why(
    make_host: MakeHost, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "flask_limiter", None)  # as if it were not installed
    with caplog.at_level(logging.WARNING):
        host = make_host(WEBCHAT_RATE_LIMIT="1/minute")
    assert "Flask-Limiter is not installed" in caplog.text
    browser = host.browser()
    assert [browser.post(f"m{n}").status_code for n in range(3)] == [201, 201, 201]


def test_a_client_without_a_session_is_counted_by_its_address(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2/minute")
    # Dropping the cookie before every post does not reset the count.
    statuses = [host.browser().post(f"m{n}").status_code for n in range(3)]
    assert statuses == [201, 201, 429]


def test_a_first_post_counts_for_the_session_it_gives_the_browser(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2/minute")
    browser = host.browser()  # a first visit: no cookie until the first post
    assert [browser.post(f"m{n}").status_code for n in range(3)] == [201, 201, 429]


def test_marking_read_uses_up_none_of_a_writers_posts(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2/minute")
    browser = host.browser()
    cursor = browser.post("one").json["cursor"]
    for _ in range(3):
        assert browser.client.post("/chat/read", json={"cursor": cursor}).status_code == 200
    assert browser.post("two").status_code == 201


def test_a_new_session_for_every_post_still_meets_the_address_limit(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2/minute")
    statuses = []
    for n in range(ADDRESS_SHARE * 2 + 1):
        browser = host.browser()  # a fresh cookie jar: a new session, a new reader key
        browser.open_page()
        statuses.append(browser.post(f"m{n}").status_code)
    assert statuses == [201] * (ADDRESS_SHARE * 2) + [429]


def test_refused_requests_do_not_use_up_the_limit(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2/minute")
    browser = host.browser()
    browser.open_page()
    for _ in range(5):
        assert browser.post("").status_code == 422
        assert browser.delete(999).status_code == 404
    assert [browser.post(f"m{n}").status_code for n in range(3)] == [201, 201, 429]


@pytest.mark.stacks(*SAMPLE_STACKS)  # a setting refused at start-up
@pytest.mark.parametrize("rate", ["often", "20/fortnight", 20])
def test_a_bad_rate_fails_at_start_up(make_host: MakeHost, rate: object) -> None:
    with pytest.raises(ValueError, match="WEBCHAT_RATE_LIMIT"):
        make_host(WEBCHAT_RATE_LIMIT=rate)
