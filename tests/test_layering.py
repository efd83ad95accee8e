"""The package's layering, checked on the source (an AST walk over every import, at module level and
inside functions alike), so that a new import that breaks it fails here:

- the DSL and the judge (`dsl`, `engine`, `judge`) import only the standard library (and each other,
  and `cli`, which like `artifacts` is standard library only);
- `tasks` never imports models, sampling, training or experiments (nor torch / transformers / trl);
- no library module imports `delta_core.experiments` (experiments sit on top of the library);
- `unsloth` is imported in exactly one module (`train/gpu.py`) and `vllm` in exactly one (`sampling.py`);
- importing `delta_core` imports only the DSL (not the rewards or anything heavy);
- there is no import cycle between the package's modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "delta_core"
STDLIB = set(sys.stdlib_module_names)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> list[tuple[str, int]]:
    """(absolute module imported, line) for every import statement of module `name`."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    tree = ast.parse(path.read_text(), str(path))
    # imports under `if TYPE_CHECKING:` are for annotations only: they never run
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
                   for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import mini` depends on the module delta_core.mini (a compiled extension such as
            # _fastdsl counts as a module too), not on the package's __init__
            submodules = [f"{target}.{a.name}" for a in node.names
                          if f"{target}.{a.name}" in MODULES or _is_extension(target, a.name)]
            out += [(m, node.lineno) for m in submodules] if len(submodules) == len(node.names) else [(target, node.lineno)]
    return out


def _is_extension(package: str, name: str) -> bool:
    folder = ROOT.joinpath(*package.split("."))
    return (folder / f"{name}.c").is_file() or any(folder.glob(f"{name}.*.so"))


def _internal(target: str) -> str | None:
    """The delta_core module an import resolves to (the longest known prefix), else None."""
    parts = target.split(".")
    if len(parts) > 1 and _is_extension(".".join(parts[:-1]), parts[-1]):
        return target
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


def _third_party(name: str) -> list[str]:
    return [f"{t} (line {line})" for t, line in _imports(name)
            if not t.startswith("delta_core") and t.split(".")[0] not in STDLIB]


def test_dsl_and_judge_use_only_the_standard_library():
    # cli (one way to report a user error) and artifacts (files that survive a kill) are standard library
    # too, and import nothing of the package: every layer may use them
    for name in ("delta_core.cli", "delta_core.artifacts"):
        assert _third_party(name) == [] and {_internal(t) for t, _ in _imports(name)} == {None}, name
    for name in ("delta_core.dsl", "delta_core.engine", "delta_core.judge"):
        assert _third_party(name) == [], f"{name} imports outside the standard library"
        internal = {_internal(t) for t, _ in _imports(name)} - {None}
        assert internal <= {"delta_core.dsl", "delta_core.engine", "delta_core.judge", "delta_core._fastdsl",
                            "delta_core.cli"}, internal


def test_tasks_never_import_models_or_training():
    banned_internal = ("delta_core.models", "delta_core.mini", "delta_core.sampling", "delta_core.train",
                       "delta_core.rewards", "delta_core.experiments", "delta_core.serve")
    banned_external = ("torch", "transformers", "trl", "peft", "unsloth", "vllm")
    for name in [m for m in MODULES if m.startswith("delta_core.tasks")]:
        for target, line in _imports(name):
            assert not target.startswith(banned_internal), f"{name} line {line} imports {target}"
            assert target.split(".")[0] not in banned_external, f"{name} line {line} imports {target}"


def test_the_library_never_imports_the_experiments():
    for name in [m for m in MODULES if not m.startswith("delta_core.experiments")]:
        for target, line in _imports(name):
            assert not target.startswith("delta_core.experiments"), f"{name} line {line} imports {target}"


def test_unsloth_and_vllm_are_each_imported_in_exactly_one_module():
    for package, home in (("unsloth", "delta_core.train.gpu"), ("vllm", "delta_core.sampling")):
        importers = sorted({m for m in MODULES for t, _ in _imports(m) if t.split(".")[0] == package})
        assert importers == [home], f"{package} is imported in {importers}"


def test_importing_the_package_imports_only_the_dsl():
    code = ("import sys, delta_core; "
            "print(sorted(m for m in sys.modules if m.startswith('delta_core')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(loaded) == ["delta_core", "delta_core.dsl"]


def test_no_import_cycles():
    graph = {m: {_internal(t) for t, _ in _imports(m)} - {None, m} for m in MODULES}
    graph = {m: {t for t in targets if t in MODULES} for m, targets in graph.items()}  # compiled modules import nothing
    # Tarjan's strongly connected components: a component of more than one module is a cycle
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
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
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == [], f"import cycles: {cycles}"
