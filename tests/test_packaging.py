"""The wheel a user installs carries the templates and static files, and runs the example app."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build_dir = tmp_path_factory.mktemp("src")
    # Build from a copy so the checkout gains no build/ or egg-info clutter.
    source = build_dir / "flask-webchat"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", ".tox", "instance", "*.egg-info", "build"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [built] = out.glob("flask_webchat-*.whl")
    return built


def test_the_wheel_contains_the_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "flask_webchat/py.typed",
        "flask_webchat/templates/webchat/base.html",
        "flask_webchat/templates/webchat/chat.html",
        "flask_webchat/templates/webchat/widget.html",
        "flask_webchat/static/webchat/webchat.js",
        "flask_webchat/static/webchat/conversation.js",
        "flask_webchat/migrations/versions/webchat_0004_conversations.py",
        "flask_webchat/static/webchat/webchat.css",
        "flask_webchat/migrations/__init__.py",
        "flask_webchat/migrations/versions/webchat_0001_create_chat_tables.py",
        # The compiled catalogs are committed, so a wheel built from a clone speaks Chinese.
        "flask_webchat/translations/webchat.pot",
        "flask_webchat/translations/en/LC_MESSAGES/webchat.mo",
        "flask_webchat/translations/zh_Hans/LC_MESSAGES/webchat.mo",
        "flask_webchat/translations/zh_Hans/LC_MESSAGES/webchat.po",
    ):
        assert expected in names
    assert not any(n.startswith(("tests/", "example_app/")) for n in names)


def test_the_installed_wheel_runs_the_example_app(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
    )
    workdir = tmp_path / "work"
    shutil.copytree(ROOT / "example_app", workdir / "example_app")
    check = (
        "import flask_webchat, sys\n"
        f"assert flask_webchat.__file__.startswith({str(site)!r}), flask_webchat.__file__\n"
        "from example_app import create_app\n"
        f"app = create_app(instance_path={str(tmp_path / 'instance')!r})\n"
        "client = app.test_client()\n"
        "page = client.get('/chat/')\n"
        "assert page.status_code == 200 and b'data-stream' in page.data\n"
        "assert client.get('/chat/static/webchat/webchat.js').status_code == 200\n"
        "posted = client.post('/chat/messages', json={'content': 'hi', 'username': 'W'})\n"
        "assert posted.status_code == 201, posted.data\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=workdir,
        env={"PYTHONPATH": f"{workdir}:{site}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
