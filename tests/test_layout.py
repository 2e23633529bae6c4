"""The package layout: no import cycles between tinykws modules, and the CLI contract.

Every ``import tinykws...`` and ``from tinykws... import ...`` counts, at module
level and inside functions (the lazy imports too): a cycle that only closes
when a command runs is still a cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from tinykws.cli import app

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "tinykws"
SKIP_DIRS = {"firmware_templates", "__pycache__"}

# `tinykws --help` before the layout change (issue 12 section 5): the contract of architecture.md.
COMMANDS = {"data", "train", "export", "train-and-export", "check", "codegen", "firmware", "profile",
            "predict", "stream", "stream-eval", "cv", "ship"}


def module_files(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Dotted module name -> file, for every module under the package (a package's __init__ is the package)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP_DIRS.intersection(rel.parts[:-1]):
            continue
        parts = ["tinykws", *rel.parts[:-1]] + ([] if path.name == "__init__.py" else [path.stem])
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: set[str]) -> str:
    """The longest prefix of a dotted name that is a module (``tinykws.x.attr`` -> ``tinykws.x``)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def imported_modules(module: str, path: Path, modules: set[str]) -> set[str]:
    """The tinykws modules that one module imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.split(".")[0] == "tinykws"]
            found.update(_known(name, modules) for name in names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "tinykws":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in modules else _known(source, modules))
    found.discard(module)
    found.discard("")
    return found


def import_graph(root: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    files = module_files(root)
    names = set(files)
    return {module: imported_modules(module, path, names) for module, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None: depth-first search with a stack of open nodes."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        stack = [start]
        on_stack = {start}
        todo = [iter(sorted(graph.get(start, ())))]
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                todo.pop()
                done.add(stack[-1])
                on_stack.discard(stack.pop())
            elif nxt in on_stack:
                return stack[stack.index(nxt):] + [nxt]
            elif nxt not in done:
                stack.append(nxt)
                on_stack.add(nxt)
                todo.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_graph_covers_the_package():
    graph = import_graph()
    assert {"tinykws.cli", "tinykws.cli.common", "tinykws.toolchain", "tinykws.verify.engines"} <= set(graph)
    assert "tinykws.cli.common" in graph["tinykws.cli.data"]  # `from tinykws.cli.common import ...`
    assert "tinykws.cli.main" in graph["tinykws.cli"]
    assert not any(m.startswith("tinykws.firmware_templates") for m in graph)


def test_no_import_cycles_between_tinykws_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"a"}}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"c"}}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_cycle_finder_sees_lazy_imports(tmp_path: Path):
    pkg = tmp_path / "tinykws"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "one.py").write_text("from tinykws.sub import two\n")
    (pkg / "sub" / "two.py").write_text("def f():\n    from tinykws.one import g\n")
    graph = import_graph(pkg)
    assert graph["tinykws.one"] == {"tinykws.sub.two"} and graph["tinykws.sub.two"] == {"tinykws.one"}
    assert set(find_cycle(graph)) == {"tinykws.one", "tinykws.sub.two"}


def test_the_top_level_commands_did_not_change():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    panel = result.output[result.output.index("Commands"):]
    listed = set(re.findall(r"^│ (\S+)\s", panel, flags=re.MULTILINE))
    assert listed == COMMANDS
    assert set(typer.main.get_command(app).list_commands(None)) == COMMANDS
