"""The package's layers hold: a Flask-free core under a web layer, and no import cycle."""

from __future__ import annotations

from pathlib import Path

from tools.import_graph import find_cycles, read_package

ROOT = Path(__file__).resolve().parent.parent
#: What only the layers above the core may use: the request, the app, the session, templates.
WEB_LIBRARIES = {
    "click",
    "flask",
    "flask_babel",
    "flask_limiter",
    "flask_login",
    "flask_session",
    "flask_sqlalchemy",
    "jinja2",
    "markupsafe",
    "werkzeug",
}


def test_the_core_imports_neither_flask_nor_the_layers_above_it() -> None:
    modules = read_package(ROOT)
    core = {name for name, module in modules.items() if module.is_core}
    assert {"flask_webchat.messages", "flask_webchat.streams", "flask_webchat.rooms"} <= core
    for name in sorted(core):
        reached, pending = set(), [name]
        while pending:  # everything importing this module imports, transitively
            current = pending.pop()
            if current in reached or current not in modules:
                continue
            reached.add(current)
            pending.extend(modules[current].internal)
        assert reached <= core, f"{name} imports {sorted(reached - core)}"
        used = set().union(*(modules[m].external | modules[m].deferred for m in reached))
        assert not used & WEB_LIBRARIES, f"{name} reaches {sorted(used & WEB_LIBRARIES)}"


def test_no_module_imports_itself_back() -> None:
    assert find_cycles(read_package(ROOT)) == []
