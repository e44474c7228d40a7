"""The package's layers hold: a Flask-free core under a web layer, and no import cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.import_graph import PACKAGE, Module, core_violations, find_cycles, read_package

ROOT = Path(__file__).resolve().parent.parent


def test_the_core_imports_neither_flask_nor_the_layers_above_it() -> None:
    modules = read_package(ROOT)
    core = {name for name, module in modules.items() if module.is_core}
    assert {"flask_webchat.messages", "flask_webchat.streams", "flask_webchat.rooms"} <= core
    assert core_violations(modules) == []


def test_no_module_imports_itself_back_not_even_through_a_deferred_import() -> None:
    assert find_cycles(read_package(ROOT)) == []


def package(root: Path, files: dict[str, str]) -> dict[str, Module]:
    """A small package named like the real one, with a clean core, a state and a web layer."""
    base = {
        "__init__.py": "",
        "rooms.py": "import sqlalchemy\n",
        "state.py": "from flask import current_app\n",
        "web/__init__.py": "",
        "web/routes.py": "from flask import request\n",
    }
    for name, source in {**base, **files}.items():
        path = root / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return read_package(root)


def test_a_clean_core_module_passes(tmp_path: Path) -> None:
    modules = package(tmp_path, {"messages.py": "from . import rooms\n\ndef f():\n    import re\n"})
    assert core_violations(modules) == []


@pytest.mark.parametrize(
    "source",
    [
        # Each is caught wherever it is: at module level, or deferred into a function.
        "def f():\n    from flask.globals import current_app\n",
        "def f():\n    import flask.globals\n",
        "def f():\n    from flask_webchat.state import get_state\n",
        "def f():\n    from .web import routes\n",
        "def f():\n    from .state import get_state\n",
        "class Poster:\n    def post(self):\n        from .web.routes import request\n",
        "import importlib\nimportlib.import_module('flask')\n",
        "import importlib\n\ndef f():\n    return importlib.import_module('flask_webchat.state')\n",
        "from importlib import import_module as load\nload('.web.routes', __package__)\n",
        "__import__('werkzeug.local')\n",
        "if not TYPE_CHECKING:\n    import flask\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\nelse:\n    import flask\n",
        "for _ in ():\n    import flask\n",
        "handler = lambda: __import__('flask')\n",
    ],
)
def test_a_core_module_reaching_flask_or_the_layers_above_fails(
    tmp_path: Path, source: str
) -> None:
    modules = package(tmp_path, {"messages.py": source})
    assert [v for v in core_violations(modules) if v.startswith("flask_webchat.messages ")]


def test_an_import_only_for_type_checkers_is_not_one(tmp_path: Path) -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .state import State\n"
    assert core_violations(package(tmp_path, {"messages.py": source})) == []


def test_importing_a_module_of_a_package_runs_the_package_and_can_close_a_cycle(
    tmp_path: Path,
) -> None:
    # Importing openapi.answers runs openapi/__init__, which imports presence back.
    modules = package(
        tmp_path,
        {
            "presence.py": "from .openapi.answers import answer\n",
            "openapi/__init__.py": "from .. import presence\n",
            "openapi/answers.py": "answer = 1\n",
        },
    )
    assert "flask_webchat.openapi" in modules["flask_webchat.presence"].internal
    assert find_cycles(modules, deferred=False) == [
        ["flask_webchat.openapi", "flask_webchat.presence", "flask_webchat.openapi"]
    ]


def test_a_module_inside_a_package_does_not_import_the_package_again(tmp_path: Path) -> None:
    modules = package(tmp_path, {"web/errors.py": "from . import routes\nfrom .. import rooms\n"})
    assert modules["flask_webchat.web.errors"].internal == {
        "flask_webchat.web.routes",
        "flask_webchat.rooms",
    }
    assert find_cycles(modules) == []


def test_a_cycle_dodged_by_a_deferred_import_is_still_a_cycle(tmp_path: Path) -> None:
    modules = package(
        tmp_path,
        {
            "presence.py": "def operations():\n    from .openapi.answers import answer\n",
            "openapi/__init__.py": "from .. import presence\n",
            "openapi/answers.py": "answer = 1\n",
        },
    )
    assert find_cycles(modules, deferred=False) == []
    assert find_cycles(modules) != []
