"""Print the package's import graph by layer, and fail on an import cycle.

Only imports that run when a module is imported count: those at module level, outside
``if TYPE_CHECKING:``. An import inside a function is listed as deferred, since one is often a
cycle being dodged. Run it from the repository's root::

    python tools/import_graph.py
"""

from __future__ import annotations

import ast
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


@dataclass
class Module:
    name: str
    path: Path
    #: Modules of the package imported when this one is.
    internal: set[str] = field(default_factory=set)
    #: Top-level names of other distributions imported when this one is.
    external: set[str] = field(default_factory=set)
    #: Imports made inside functions, when they run.
    deferred: set[str] = field(default_factory=set)

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
        _collect(module, modules)
    return modules


def _collect(module: Module, modules: dict[str, Module]) -> None:
    tree = ast.parse(module.path.read_text())
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]

    def visit(nodes: list[ast.stmt], deferred: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # only read by type checkers
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, True)
                continue
            if isinstance(node, ast.ClassDef):
                visit(node.body, deferred)
                continue
            if isinstance(node, (ast.If, ast.Try, ast.With)):
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []), deferred)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, deferred)
                continue
            for target in _targets(node, package, modules):
                if deferred:
                    module.deferred.add(target)
                elif target.startswith(PACKAGE):
                    module.internal.add(target)
                else:
                    module.external.add(target.partition(".")[0])

    visit(tree.body, False)


def _targets(node: ast.stmt, package: str, modules: dict[str, Module]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package.split(".")
        base = base[: len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    # ``from . import rooms`` imports the module ``rooms``; ``from .rooms import x`` imports rooms.
    named = [f"{source}.{alias.name}" for alias in node.names]
    submodules = [name for name in named if name in modules]
    return submodules or [source]


def find_cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Every import cycle among the modules, each as the modules it passes through."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(modules[name].internal):
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


def main() -> int:
    modules = read_package(Path(__file__).resolve().parent.parent)
    for layer, in_layer in (("core", True), ("outside the core", False)):
        chosen = [m for m in modules.values() if m.is_core == in_layer]
        print(f"{layer}: {len(chosen)} modules, {sum(m.lines for m in chosen)} lines")
        for module in chosen:
            imports = ", ".join(sorted(n.removeprefix(PACKAGE + ".") for n in module.internal))
            print(f"  {module.name:<36} {module.lines:>4}  {imports}")
            if module.deferred:
                print(f"  {'':<36}       deferred: {', '.join(sorted(module.deferred))}")
    cycles = find_cycles(modules)
    for cycle in cycles:
        print("cycle: " + " -> ".join(cycle))
    print("no import cycle" if not cycles else f"{len(cycles)} import cycle(s)")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
