"""The shape of the code: no import cycles, the torch side on public runtime names only, no process
exits below the command entry points."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("imgadapt", "export")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import statement of a module, relative imports made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            out.append((base, [a.name for a in node.names]))
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of the two packages it imports (``from P import m`` counts as ``P.m``
    where ``m`` is a module, else as ``P``)."""
    graph = {}
    for name, path in MODULES.items():
        edges = set()
        for module, names in _imports(name, path):
            targets = [f"{module}.{n}" if f"{module}.{n}" in MODULES else module for n in names] or [module]
            edges |= {t for t in targets if t in MODULES and t != name}
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_torch_side_imports_only_public_runtime_names():
    private = []
    for name, path in MODULES.items():
        if not name.startswith("export"):
            continue
        for module, names in _imports(name, path):
            if module.split(".")[0] != "imgadapt":
                continue
            used = [module] + [f"{module}.{n}" for n in names]
            private += [f"{name}: {u}" for u in used if any(part.startswith("_") for part in u.split(".")[1:])]
    assert private == []


def test_no_process_exit_below_the_entry_points():
    """``SystemExit`` and ``sys.exit`` only where a process starts: a module's ``__main__`` block,
    ``__main__.py``, or a function named ``main`` or ``*_main`` (a worker process's entry)."""
    found = []
    for name, path in MODULES.items():
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text())
        entries = [node for node in ast.walk(tree)
                   if (isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))
                   or (isinstance(node, ast.FunctionDef) and (node.name == "main" or node.name.endswith("_main")))]
        main_blocks = {id(n) for node in entries for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in main_blocks:
                continue
            text = ast.unparse(node) if isinstance(node, (ast.Raise, ast.Call)) else ""
            if (isinstance(node, ast.Raise) and "SystemExit" in text) or \
                    (isinstance(node, ast.Call) and text.startswith(("sys.exit(", "exit(", "quit("))):
                found.append(f"{name}:{node.lineno}")
    assert found == []


def test_the_runtime_never_imports_torch_at_module_level():
    found = []
    for name, path in MODULES.items():
        if name.startswith("imgadapt"):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    found += [f"{name}: {m}" for m in modules if m.split(".")[0] == "torch"]
    assert found == []
