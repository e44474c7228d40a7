"""Print the package's import graph by layer; fail on an import cycle or on a core module that
reaches Flask or the layers above the core.

A module's imports are read from its source. Those that run when it is imported are its edges:
at module level, outside ``if TYPE_CHECKING:``, including ``importlib.import_module("…")`` and
``__import__("…")`` called with a literal name. Importing ``a.b.c`` first runs the packages ``a``
and ``a.b`` (their ``__init__``), so it counts as importing them too, unless the importer is
inside them already. An import inside a function is *deferred*: it is listed, the core rule
follows it (it runs sooner or later), and a cycle it closes counts as one, since a deferred
import is the usual way of dodging a cycle. Run it from the repository's root::

    python tools/import_graph.py
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "flask_webchat"
#: Modules outside the Flask-free core: the wiring, the web layer, the CLI, the migrations.
NOT_CORE = (
    "flask_webchat",
    "flask_webchat.extension",
    "flask_webchat.host_api",
    "flask_webchat.state",
    "flask_webchat.cli",
)
NOT_CORE_PACKAGES = ("flask_webchat.web", "flask_webchat.migrations")
#: What only the layers above the core may use: the request, the app, the session, templates.
WEB_LIBRARIES = frozenset(
    {
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
)


@dataclass
class Module:
    name: str
    path: Path
    #: Modules of the package imported when this one is (with the packages above them).
    internal: set[str] = field(default_factory=set)
    #: Top-level names of other distributions imported when this one is.
    external: set[str] = field(default_factory=set)
    #: Modules of the package imported inside functions, when they run.
    deferred_internal: set[str] = field(default_factory=set)
    #: Top-level names of other distributions imported inside functions.
    deferred_external: set[str] = field(default_factory=set)

    @property
    def is_core(self) -> bool:
        return self.name not in NOT_CORE and not any(
            self.name == package or self.name.startswith(package + ".")
            for package in NOT_CORE_PACKAGES
        )

    @property
    def lines(self) -> int:
        return len(self.path.read_text().splitlines())


def read_package(root: Path) -> dict[str, Module]:
    """Every module of the package below ``root`` with what it imports."""
    modules: dict[str, Module] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if "versions" in parts:  # Alembic revisions are loaded by Alembic, not imported
            continue
        modules[".".join(parts)] = Module(".".join(parts), path)
    for module in modules.values():
        _Imports(module, modules).visit(ast.parse(module.path.read_text()))
    return modules


class _Imports(ast.NodeVisitor):
    """Collects one module's imports into its :class:`Module`."""

    def __init__(self, module: Module, modules: dict[str, Module]) -> None:
        self.module, self.modules = module, modules
        is_package = module.path.name == "__init__.py"
        self.package = module.name if is_package else module.name.rpartition(".")[0]
        self.deferred = False
        #: Names this module binds to ``importlib`` and to ``importlib.import_module``.
        self.importlib_names: set[str] = set()
        self.import_module_names: set[str] = {"__import__"}

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:  # only the body is for type checkers
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # Decorators and defaults run when the function is defined; its body when it is called.
        for expression in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expression is not None:
                self.visit(expression)
        self._deferred(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expression in [*node.args.defaults, *node.args.kw_defaults]:
            if expression is not None:
                self.visit(expression)
        self._deferred([node.body])

    def _deferred(self, nodes: list[ast.stmt] | list[ast.expr]) -> None:
        outer, self.deferred = self.deferred, True
        for child in nodes:
            self.visit(child)
        self.deferred = outer

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "importlib":
                self.importlib_names.add(alias.asname or "importlib")
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if source == "importlib":
            self.import_module_names.update(
                alias.asname or alias.name for alias in node.names if alias.name == "import_module"
            )
        # ``from . import rooms`` imports the module ``rooms``; ``from .rooms import x`` rooms.
        named = [f"{source}.{alias.name}" for alias in node.names]
        for target in [name for name in named if name in self.modules] or [source]:
            self._add(target)

    def visit_Call(self, node: ast.Call) -> None:
        target = self._imported_by(node)
        if target is not None:
            self._add(target)
        self.generic_visit(node)

    def _imported_by(self, call: ast.Call) -> str | None:
        """The module a call such as ``importlib.import_module("x")`` imports, if it says."""
        function = call.func
        calls_importlib = (
            isinstance(function, ast.Attribute)
            and function.attr == "import_module"
            and isinstance(function.value, ast.Name)
            and function.value.id in self.importlib_names
        ) or (isinstance(function, ast.Name) and function.id in self.import_module_names)
        if not calls_importlib or not call.args:
            return None
        name = call.args[0]
        if not isinstance(name, ast.Constant) or not isinstance(name.value, str):
            return None  # a computed name: nothing to read
        if not name.value.startswith("."):
            return name.value
        anchor = call.args[1] if len(call.args) > 1 else None
        anchor = next((k.value for k in call.keywords if k.arg == "package"), anchor)
        if isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
            return importlib.util.resolve_name(name.value, anchor.value)
        if isinstance(anchor, ast.Name) and anchor.id in ("__package__", "__name__"):
            package = self.package if anchor.id == "__package__" else self.module.name
            return importlib.util.resolve_name(name.value, package)
        return None

    def _add(self, target: str) -> None:
        module = self.module
        if target == PACKAGE or target.startswith(PACKAGE + "."):
            internal = module.deferred_internal if self.deferred else module.internal
            internal.update(_with_packages(target, module.name, self.modules))
        else:
            external = module.deferred_external if self.deferred else module.external
            external.add(target.partition(".")[0])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _with_packages(target: str, importer: str, modules: dict[str, Module]) -> list[str]:
    """``target`` and the packages above it that importing it runs, unless already running.

    The packages above the importer (and the importer itself, if a package) have begun before
    its first line runs, so importing one of them again runs nothing.
    """
    parts = importer.split(".")
    running = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    parts = target.split(".")
    packages = [".".join(parts[:n]) for n in range(1, len(parts))]
    return [target, *(p for p in packages if p in modules and p not in running)]


def find_cycles(modules: dict[str, Module], *, deferred: bool = True) -> list[list[str]]:
    """Import cycles among the modules, each as the modules it passes through.

    With ``deferred`` (the default), a deferred import counts as an edge: a cycle it closes is
    one dodged, not one untangled. At least one cycle is listed if there is any.
    """
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(name: str) -> None:
        state[name] = 1
        path.append(name)
        module = modules[name]
        for target in sorted(module.internal | (module.deferred_internal if deferred else set())):
            if target not in modules:
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target)
        path.pop()
        state[name] = 2

    for name in modules:
        if name not in state:
            walk(name)
    return cycles


def core_violations(modules: dict[str, Module]) -> list[str]:
    """Each core module that reaches, directly or not, deferred or not, a module above the
    core or a library of :data:`WEB_LIBRARIES`, with what it reaches.
    """
    core = {name for name, module in modules.items() if module.is_core}
    found = []
    for name in sorted(core):
        reached, pending = set(), [name]
        while pending:  # everything importing this module imports, sooner or later
            current = pending.pop()
            if current in reached or current not in modules:
                continue
            reached.add(current)
            pending.extend(modules[current].internal | modules[current].deferred_internal)
        if reached - core:
            found.append(f"{name} imports {', '.join(sorted(reached - core))}")
        used = set().union(*(modules[m].external | modules[m].deferred_external for m in reached))
        if used & WEB_LIBRARIES:
            found.append(f"{name} reaches {', '.join(sorted(used & WEB_LIBRARIES))}")
    return found


def main() -> int:
    modules = read_package(Path(__file__).resolve().parent.parent)
    for layer, in_layer in (("core", True), ("outside the core", False)):
        chosen = [m for m in modules.values() if m.is_core == in_layer]
        print(f"{layer}: {len(chosen)} modules, {sum(m.lines for m in chosen)} lines")
        for module in chosen:
            imports = ", ".join(sorted(n.removeprefix(PACKAGE + ".") for n in module.internal))
            print(f"  {module.name:<36} {module.lines:>4}  {imports}")
            deferred = sorted(n.removeprefix(PACKAGE + ".") for n in module.deferred_internal)
            deferred += sorted(module.deferred_external)
            if deferred:
                print(f"  {'':<36}       deferred: {', '.join(deferred)}")
    runtime = find_cycles(modules, deferred=False)
    for cycle in runtime:
        print("cycle: " + " -> ".join(cycle))
    dodged = [cycle for cycle in find_cycles(modules) if cycle not in runtime]
    for cycle in dodged:
        print("cycle through a deferred import: " + " -> ".join(cycle))
    cycles = runtime + dodged
    print("no import cycle" if not cycles else f"{len(cycles)} import cycle(s)")
    violations = core_violations(modules)
    for violation in violations:
        print("core rule broken: " + violation)
    return 1 if cycles or violations else 0


if __name__ == "__main__":
    sys.exit(main())
