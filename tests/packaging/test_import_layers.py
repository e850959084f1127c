"""Arrows point down only: validation -> kernels -> theory, and no two modules import each other.

Every import statement is read from the source (module level *and* inside functions: a
function-local import is still a dependency, only a hidden one).
"""
import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: folder -> import name; the floor of each package (lower = more fundamental)
PACKAGES = {"theory": "depthcheck.theory", "kernels": "depthcheck.kernels",
            "validation": "depthcheck.validation", "depthcheck": "depthcheck"}
FLOOR = {"depthcheck.theory": 0, "depthcheck.kernels": 1, "depthcheck.validation": 2}


def _modules() -> dict[str, Path]:
    mods = {}
    for folder, name in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            mods[".".join([name, *parts])] = path
    return mods


MODULES = _modules()


def _is_package(mod: str) -> bool:
    return MODULES[mod].name == "__init__.py"


def _resolve(mod: str, node: ast.AST) -> set[str]:
    """The modules of ours that the import statement ``node`` in module ``mod`` loads."""
    out = set()
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        for n in names:
            while n and n not in MODULES:
                n = n.rpartition(".")[0]
            if n:
                out.add(n)
        return out
    base = node.module or ""
    if node.level:
        pkg = mod if _is_package(mod) else mod.rpartition(".")[0]
        for _ in range(node.level - 1):
            pkg = pkg.rpartition(".")[0]
        base = f"{pkg}.{base}" if base else pkg
    for a in node.names:
        cand = f"{base}.{a.name}"
        if cand in MODULES:
            out.add(cand)
        elif base in MODULES:
            out.add(base)
    return out


def _graph() -> dict[str, set[str]]:
    g = {}
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps |= _resolve(mod, node)
        deps.discard(mod)
        g[mod] = deps
    return g


GRAPH = _graph()


def _floor(mod: str):
    for pkg, f in FLOOR.items():
        if mod == pkg or mod.startswith(pkg + "."):
            return f
    return None  # the import root ``depthcheck`` itself


def test_the_graph_was_read():
    assert len(MODULES) > 60
    assert "depthcheck.theory.isometry" in GRAPH["depthcheck.kernels.chain.statistics"]


def test_no_module_imports_above_its_floor():
    bad = [(m, d) for m, deps in GRAPH.items() for d in deps
           if _floor(m) is not None and _floor(d) is not None and _floor(d) > _floor(m)]
    assert not bad, "imports pointing up: " + ", ".join(f"{m} -> {d}" for m, d in sorted(bad))


def test_no_two_modules_import_each_other():
    pairs = sorted({tuple(sorted((m, d))) for m, deps in GRAPH.items() for d in deps
                    if m in GRAPH.get(d, ())})
    assert not pairs, "mutual imports: " + ", ".join(f"{a} <-> {b}" for a, b in pairs)


def test_nothing_imports_the_unnamespaced_folders():
    """Every import of ours goes through ``depthcheck.``: a bare ``import kernels`` would pick up
    whatever package of that name comes first on sys.path."""
    bad = []
    for mod, path in list(MODULES.items()) + [
            (str(p.relative_to(ROOT)), p) for p in (ROOT / "tests").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [(node.module or "").split(".")[0]]
            else:
                continue
            bad += [f"{mod}: {t}" for t in tops if t in ("theory", "kernels", "validation")]
    assert not bad, bad


@pytest.mark.parametrize("mod", ["depthcheck.kernels.backends.numpy",
                                 "depthcheck.validation.run.runner"])
def test_the_checker_sees_real_edges(mod):
    # guards against a checker that trivially passes because it resolved nothing
    assert GRAPH[mod], mod
