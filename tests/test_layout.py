"""The floor plan: packages import only downwards, files import without cycles.

Layers, lowest first: ``core`` and ``configs`` (ground), ``models``, ``inference``, ``world``,
``training``, ``app``. Function-level (lazy) imports count as much as top-level ones: a lazy
import upwards is still an upward dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = {"core": 0, "configs": 0, "models": 1, "inference": 2, "world": 3, "training": 4, "app": 5}


def _modules(packages: list[str]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imported(path: Path) -> set[str]:
    """Every absolute module name an ``import`` or ``from ... import`` in ``path`` may load."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _project_graph() -> dict[str, set[str]]:
    modules = _modules(list(LAYER))
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _imported(path):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return components


def test_packages_import_only_downwards():
    upward = []
    for source, targets in _project_graph().items():
        for target in targets:
            low, high = source.split(".")[0], target.split(".")[0]
            if low != high and LAYER[high] >= LAYER[low]:
                upward.append(f"{source} -> {target}")
    assert not upward, "imports that go up (or sideways between ground packages):\n" + "\n".join(sorted(upward))


def test_no_import_cycles_between_files():
    assert _cycles(_project_graph()) == []


def test_bench_and_scripts_never_import_tests():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in ("bench", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        for name in _imported(path)
        if name == "tests" or name.startswith("tests.")
    ]
    assert not offenders, "\n".join(offenders)


def test_importing_models_loads_no_other_layer():
    code = (
        "import sys, models; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'inference', 'world', 'training', 'app'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_inference_stays_light():
    code = "import sys, inference; print(sorted({'torch', 'gradio', 'ray'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


MAX_INFERENCE_LINES = 500


def _sql_calls(path: Path) -> list[int]:
    """Lines of ``.execute(``-style calls and ``sqlite3`` imports in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in {"execute", "executemany", "executescript"}:
                found.append(node.lineno)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(name.split(".")[0] == "sqlite3" for name in names):
                found.append(node.lineno)
    return sorted(found)


def test_sql_lives_in_the_catalog():
    offenders = [
        f"{relative}:{line}"
        for package in ("inference", "app", "training", "world")
        for path in sorted((ROOT / package).rglob("*.py"))
        if not (relative := path.relative_to(ROOT).as_posix()).startswith("inference/catalog/")
        for line in _sql_calls(path)
    ]
    assert not offenders, "SQL outside inference/catalog/ (add a query to the catalog instead):\n" + "\n".join(offenders)


def test_the_sql_check_sees_execute_calls(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlite3\n\ndef f(catalog):\n    return catalog.conn.execute('SELECT 1')\n")
    assert _sql_calls(sample) == [1, 4]


def test_no_inference_file_is_over_500_lines():
    long = [
        f"{path.relative_to(ROOT).as_posix()}: {lines} lines"
        for path in sorted((ROOT / "inference").rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_INFERENCE_LINES
    ]
    assert not long, f"inference files over {MAX_INFERENCE_LINES} lines (split them by concern):\n" + "\n".join(long)


def test_only_the_catalog_touches_its_connection():
    offenders = [
        f"{path.relative_to(ROOT).as_posix()}:{node.lineno}"
        for package in ("inference", "app", "training", "world", "bench", "scripts")
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.relative_to(ROOT).as_posix().startswith("inference/catalog/")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in {"_conn", "_transaction", "conn", "transaction"}
    ]
    assert not offenders, "the catalog's connection is private: add a query to inference/catalog/:\n" + "\n".join(offenders)
