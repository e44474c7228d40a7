"""The chat speaks the reader's language: catalogs, locale selection, the page, errors, the CLI."""

from __future__ import annotations

import json
import re
import shutil
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract as babel_extract
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations
from flask import Flask

from flask_webchat import i18n
from flask_webchat.web.locale import script_ids
from hosts import SAMPLE_STACKS, Host, MakeHost

# Behaviour decided before storage, the same on every database and session backend.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS)

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "flask_webchat" / "translations"
TEMPLATE = CATALOGS / "webchat.pot"
SCRIPTS = ROOT / "flask_webchat" / "static" / "webchat"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
ZH_CN = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def pybabel(*args: str) -> None:
    """Run ``pybabel`` as the documented recipe does, from the project's root."""
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(target: Path) -> None:
    pybabel(
        "extract", "-F", str(ROOT / "babel.cfg"), "--no-location", "--sort-output",
        "-o", str(target), str(ROOT),
    )  # fmt: skip


def ids(path: Path) -> set[str]:
    with path.open("rb") as file:
        return {_id(message.id) for message in read_po(file) if message.id}


def _id(msgid: str | tuple[str, ...]) -> str:
    return msgid[0] if isinstance(msgid, (tuple, list)) else msgid


def entries(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    return {
        _id(m.id): tuple(m.string) if isinstance(m.string, (tuple, list)) else (m.string,)
        for m in catalog
        if m.id
    }


def po_files() -> list[Path]:
    return sorted(CATALOGS.glob("*/LC_MESSAGES/webchat.po"))


# -- the catalogs ---------------------------------------------------------------------------------


def test_the_template_lists_every_string_the_code_marks(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)  # babel.cfg's patterns are relative to the project
    extract(tmp_path / "webchat.pot")
    fresh = ids(tmp_path / "webchat.pot")
    assert fresh == ids(TEMPLATE), (
        "webchat.pot is out of date: run the extract and update steps of docs/i18n.rst"
    )
    assert set(script_ids()) <= fresh  # what the page hands to its scripts is in the catalogs


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.js")), ids=lambda path: path.name)
def test_the_page_hands_over_the_strings_of_every_script(script: Path) -> None:
    with script.open("rb") as file:
        marked = {str(entry[1]) for entry in babel_extract("javascript", file, {"_": None})}
    missing = marked - set(script_ids())
    assert not missing, f"{script.name}'s strings never reach the page: list it in web/locale.py"


@pytest.mark.parametrize("po", po_files(), ids=lambda path: path.parent.parent.name)
def test_each_catalog_is_complete_with_the_same_placeholders(po: Path) -> None:
    with po.open("rb") as file:
        catalog = read_po(file)
    assert {_id(m.id) for m in catalog if m.id} == ids(TEMPLATE), f"{po}: run pybabel update"
    source = catalog.locale_identifier == i18n.SOURCE_LOCALE
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"{po}: fuzzy {message.id!r}"
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if source and not any(strings):
            continue  # English: an empty translation is the id itself
        assert all(strings), f"{po}: {message.id!r} is not translated"
        wanted = set(PLACEHOLDER.findall(originals[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, f"{po}: {string!r}"
            assert string.count("%") == string.count("%(") + 2 * string.count("%%")


@pytest.mark.parametrize("po", po_files(), ids=lambda path: path.parent.parent.name)
def test_the_committed_mo_files_are_compiled_from_their_po(po: Path) -> None:
    with po.open("rb") as file:
        catalog = read_po(file)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    with po.with_suffix(".mo").open("rb") as file:
        committed = read_mo(file)
    expected = read_mo(compiled)
    assert entries(committed) == entries(expected), (
        f"{po.with_suffix('.mo')} is stale: run pybabel compile (docs/i18n.rst)"
    )


def test_a_broken_placeholder_falls_back_to_english() -> None:
    class Broken(NullTranslations):
        def gettext(self, message: str) -> str:
            return "消息 %(identifier)s 不存在。"

    message = i18n.N_("There is no message %(id)s.", id=7)
    assert i18n.translate(message, Broken()) == "There is no message 7."


def test_the_chinese_catalog_calls_each_thing_by_one_name() -> None:
    # A reader who sees 聊天室 on one line and 房间 on the next wonders whether they differ.
    one_word = {"房间": "聊天室", "名字": "昵称"}
    with (CATALOGS / "zh_Hans" / "LC_MESSAGES" / "webchat.po").open("rb") as file:
        catalog = read_po(file)
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for avoided, used in one_word.items():
            assert not any(avoided in string for string in strings), (
                f"{message.id!r}: say {used}, not {avoided}"
            )
    # "Ann and 2 others": 2 counts the others, so not "Ann 等 2 人" (two people, Ann included).
    others = catalog.get("%(name)s and %(count)s others are typing…")
    assert others is not None and "另外 %(count)s 人" in others.string


# -- choosing the language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preferred", "chosen"),
    [
        (["zh-CN"], "zh_Hans"),
        (["zh"], "zh_Hans"),
        (["zh-SG"], "zh_Hans"),
        (["zh-Hans-CN"], "zh_Hans"),
        (["zh-TW"], None),  # Traditional characters: not this catalog
        (["zh-TW", "zh"], "zh_Hans"),
        (["fr-FR", "en-GB"], "en"),
        (["de", "*"], None),
        (["not a locale"], None),
    ],
)
def test_the_reader_gets_the_first_catalog_they_read(preferred: list[str], chosen: str) -> None:
    assert i18n.negotiate(preferred, ("en", "zh_Hans")) == chosen


def test_with_accept_language_zh_cn_the_page_and_errors_read_in_chinese(host: Host) -> None:
    client = host.browser().client
    page = client.get("/chat/", headers=ZH_CN)
    assert '<html lang="zh-Hans" dir="ltr">' in page.text
    assert page.headers["Content-Language"] == "zh-Hans"
    assert "<title>聊天室</title>" in page.text
    assert ">发送</button>" in page.text and 'aria-label="已输入字数"' in page.text
    strings = json.loads(re.search(r"data-strings='([^']*)'", page.text).group(1))
    assert strings["guest"] == "访客"  # the client's strings, in the page
    assert strings["Reconnecting… next try %(when)s (%(reason)s)"].startswith("正在重新连接")
    body = {"content": "   ", "username": "小明"}
    refused = client.post("/chat/messages", json=body, headers=ZH_CN)
    assert refused.status_code == 422
    assert refused.json["error"] == {
        "status": 422,
        "code": "invalid_fields",  # codes and field names stay English
        "message": "部分字段填写有误。",
        "fields": {"content": ["消息不能为空。"]},
    }
    missing = client.get("/chat/messages/99999", headers=ZH_CN)
    assert missing.json["error"]["message"] == "消息 99999 不存在。"
    unknown = client.get("/chat/no/such/page", headers=ZH_CN)
    assert unknown.json["error"]["message"] == "该地址不存在。"
    assert host.stored_messages() == []


def test_a_rate_limited_post_is_refused_in_chinese(make_host: MakeHost) -> None:
    browser = make_host(WEBCHAT_RATE_LIMIT="1/minute").browser()
    browser.open_page()
    body = {"content": "一", "username": "小明"}
    assert browser.client.post("/chat/messages", json=body, headers=ZH_CN).status_code == 201
    refused = browser.client.post("/chat/messages", json=body, headers=ZH_CN)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert refused.json["error"]["message"] == "发得太快了，请稍等片刻再发。"


def test_english_stays_the_default_and_content_is_never_translated(host: Host) -> None:
    browser = host.browser()
    browser.say("Send")  # the same word as a button: still content
    page = browser.client.get("/chat/", headers={"Accept-Language": "zh-TW, fr;q=0.5"})
    assert '<html lang="en" dir="ltr">' in page.text and ">Send</button>" in page.text
    batch = browser.client.get("/chat/messages?after=0", headers=ZH_CN).json
    assert [m["content"] for m in batch["messages"]] == ["Send"]
    refused = browser.client.post("/chat/messages", json={"content": "", "username": "Ann"})
    assert refused.json["error"]["fields"] == {"content": ["A message cannot be empty."]}


def test_the_chats_own_query_messages_read_in_chinese(host: Host) -> None:
    client = host.browser().client
    cursor = client.get("/chat/messages?after=abc", headers=ZH_CN).json["error"]
    assert cursor["fields"] == {"after": ["游标无效。"]}
    stream = client.get("/chat/messages?stream=a*b", headers=ZH_CN).json["error"]
    assert stream["fields"] == {"stream": ["消息流标识无效。"]}


def test_marshmallows_own_messages_are_left_as_they_are(host: Host) -> None:
    refused = host.browser().client.post(
        "/chat/messages", json={"content": 5, "username": "Ann"}, headers=ZH_CN
    )
    assert refused.json["error"]["message"] == "部分字段填写有误。"
    assert refused.json["error"]["fields"] == {"content": ["Not a valid string."]}


def test_webchat_locale_fixes_the_language_or_chooses_it(make_host: MakeHost) -> None:
    fixed = make_host(WEBCHAT_LOCALE="zh_Hans").browser().client
    assert '<html lang="zh-Hans"' in fixed.get("/chat/", headers={"Accept-Language": "en"}).text
    # Fixed means fixed: a language without a catalog is English, whatever the browser asks.
    french = make_host(WEBCHAT_LOCALE="fr").browser().client
    assert '<html lang="en"' in french.get("/chat/", headers=ZH_CN).text
    choices = iter(["zh_CN", None])
    chosen = make_host(WEBCHAT_LOCALE=lambda: next(choices)).browser().client
    assert '<html lang="zh-Hans"' in chosen.get("/chat/").text
    assert '<html lang="en"' in chosen.get("/chat/").text  # None: Accept-Language, then English


def test_a_bad_webchat_locale_fails_at_startup(make_host: MakeHost) -> None:
    with pytest.raises(ValueError, match="WEBCHAT_LOCALE"):
        make_host(WEBCHAT_LOCALE="klingon-ish")


def test_with_flask_babel_the_chat_follows_the_hosts_locale_selector(make_host: MakeHost) -> None:
    flask_babel = pytest.importorskip("flask_babel")

    def use_babel(app: Flask) -> None:
        flask_babel.Babel(app, locale_selector=lambda: "zh_CN")

    client = make_host(before_webchat=use_babel, WEBCHAT_LOCALE="en").browser().client
    page = client.get("/chat/", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hans"' in page.text and ">发送</button>" in page.text
    refused = client.post("/chat/messages", json={"content": "", "username": "Ann"})
    assert refused.json["error"]["fields"] == {"content": ["消息不能为空。"]}


def test_a_host_template_keeps_its_own_flask_babel_strings(
    make_host: MakeHost, tmp_path: Path
) -> None:
    flask_babel = pytest.importorskip("flask_babel")
    templates = tmp_path / "templates" / "webchat"
    templates.mkdir(parents=True)
    (templates / "chat.html").write_text(
        '{% extends "webchat/base.html" %}{% block body %}<h1>{{ _("Our lounge") }}</h1>'
        '{% include "webchat/widget.html" %}{% endblock %}'
    )
    host_catalog = tmp_path / "host-translations" / "zh_Hans" / "LC_MESSAGES"
    host_catalog.mkdir(parents=True)
    (host_catalog / "messages.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Our lounge"\nmsgstr "我们的休息室"\n',
        encoding="utf-8",
    )
    pybabel("compile", "-d", str(host_catalog.parent.parent))

    def use_babel(app: Flask) -> None:
        app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(host_catalog.parent.parent)
        flask_babel.Babel(app, locale_selector=lambda: "zh_Hans")

    host = make_host(before_webchat=use_babel, template_folder=str(tmp_path / "templates"))
    page = host.browser().client.get("/chat/").text
    assert "<h1>我们的休息室</h1>" in page and ">发送</button>" in page


# -- adding a language, overriding a string -------------------------------------------------------


def test_the_recipe_adds_a_language_and_overrides_a_string(host: Host, tmp_path: Path) -> None:
    """docs/i18n.rst, step by step: init from the template, translate, compile, serve."""
    translations = tmp_path / "translations"
    pybabel("init", "-D", "webchat", "-i", str(TEMPLATE), "-d", str(translations), "-l", "fr")
    po = translations / "fr" / "LC_MESSAGES" / "webchat.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "Send"\nmsgstr ""', 'msgid "Send"\nmsgstr "Envoyer"')
    po.write_text(text, encoding="utf-8")
    shutil.copytree(CATALOGS / "zh_Hans", translations / "zh_Hans")  # override one string
    zh = translations / "zh_Hans" / "LC_MESSAGES" / "webchat.po"
    zh.write_text(
        zh.read_text(encoding="utf-8").replace('msgstr "发送"', 'msgstr "发出"'), encoding="utf-8"
    )
    (zh.with_suffix(".mo")).unlink()
    pybabel("compile", "-D", "webchat", "-d", str(translations))
    host.app.root_path = str(tmp_path)  # the host's own translations folder

    client = host.browser().client
    french = client.get("/chat/", headers={"Accept-Language": "fr-FR"}).text
    assert '<html lang="fr"' in french and ">Envoyer</button>" in french
    assert ">Load older messages</button>" in french  # not translated yet: English
    chinese = client.get("/chat/", headers=ZH_CN).text
    assert ">发出</button>" in chinese and ">加载更早的消息</button>" in chinese


# -- the CLI --------------------------------------------------------------------------------------


def test_the_cli_speaks_the_configured_language(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_LOCALE="zh_Hans")
    host.browser().say("hello")
    runner = host.app.test_cli_runner()
    stats = runner.invoke(args=["webchat", "stats"])
    assert stats.output.splitlines()[-1] == "共 1 个聊天室，1 条消息。"
    purge = runner.invoke(args=["webchat", "purge", "--older-than", "30d", "--dry-run"])
    assert purge.output.splitlines()[0] == "将从 0 个聊天室删除 0 条消息。"
    assert runner.invoke(args=["webchat", "stats", "--json"]).output.startswith('{"rooms"')
    posted = runner.invoke(args=["webchat", "post", "部署完成"])
    [*_, notice] = host.stored_messages()
    assert posted.output == f"已在聊天室 lobby 发布消息 {notice.id}。\n"
    both = runner.invoke(args=["webchat", "post", "--system", "--as", "Ann", "hi"])
    assert "--system 和 --as NAME 只能二选一。" in both.output
    # The core's refusals, and their field messages, in Chinese too (field names stay).
    empty = runner.invoke(args=["webchat", "post", "   "])
    assert "消息不能为空。" in empty.output and "content: " in empty.output
    long_name = runner.invoke(args=["webchat", "post", "--as", "n" * 65, "hi"])
    assert "昵称最多 64 个字。" in long_name.output
    assert (empty.exit_code, long_name.exit_code) == (2, 2)
