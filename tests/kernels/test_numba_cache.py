"""numba's disk cache vs edits in other files (depthcheck.kernels.backends.numba._cache).

A cached kernel compiles in the functions it calls from other modules; numba does not notice
when those files change. The control shows the hazard (a plain cached entry keeps the stale
code), the test that closing over ``source_fingerprint`` fixes it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from depthcheck.kernels.backends.numba import _cache as _numba_cache
from depthcheck.kernels.backends.numba._cache import source_fingerprint

_DEP = "from numba import njit\n\n@njit(cache=True)\ndef value():\n    return {v}\n"
_ENTRY = textwrap.dedent("""
    from numba import njit
    import dep
    from depthcheck.kernels.backends.numba._cache import source_fingerprint

    @njit(cache=True)
    def plain():
        return dep.value()

    def make(fp):
        @njit(cache=True)
        def fingerprinted():
            if fp < 0:
                return -1
            return dep.value()
        return fingerprinted

    fingerprinted = make(source_fingerprint(dep))
""")


def _run(tmp: Path) -> tuple[int, int]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), str(Path(__file__).parents[2])]),
               NUMBA_CACHE_DIR=str(tmp / "cache"))
    out = subprocess.run([sys.executable, "-c",
                          "import entry; print(entry.plain(), entry.fingerprinted())"],
                         cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    a, b = out.stdout.split()
    return int(a), int(b)


def test_fingerprint_tracks_the_source(tmp_path):
    import types
    f = tmp_path / "m.py"
    f.write_text("x = 1\n")
    mod = types.SimpleNamespace(__file__=str(f))
    a = source_fingerprint(mod)
    assert source_fingerprint(mod) == a and 0 <= a < 2**56
    f.write_text("x = 2\n")
    assert source_fingerprint(mod) != a
    assert source_fingerprint(_numba_cache) != a


def test_fingerprinted_entry_recompiles_when_a_dependency_changes(tmp_path):
    (tmp_path / "entry.py").write_text(_ENTRY)
    (tmp_path / "dep.py").write_text(_DEP.format(v=1))
    assert _run(tmp_path) == (1, 1)
    (tmp_path / "dep.py").write_text(_DEP.format(v=2))
    plain, fingerprinted = _run(tmp_path)
    assert fingerprinted == 2
    assert plain == 1          # control: numba's own cache key misses the edit (stale code)


# ---------------------------------------------------------------- the chain kernels' fingerprint
#: modules the kernels' modules import for host-side work only (nothing of theirs is compiled in)
_HOST_ONLY = {"depthcheck.theory._checks", "depthcheck.kernels.chain.errors",
              "depthcheck.kernels.backends.numba._cache",
              "depthcheck.kernels.random.haar"}      # philox's host-side readout QR


def _module_imports(mod) -> set[str]:
    """The ``depthcheck`` modules ``mod`` imports (module level and inside functions)."""
    import ast
    import importlib
    tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:                               # relative: theory/isometry uses ._checks
                base = mod.__name__.rsplit(".", node.level)[0] + "." + node.module
            for a in node.names:
                try:
                    importlib.import_module(f"{base}.{a.name}")
                    out.add(f"{base}.{a.name}")
                except ImportError:
                    out.add(base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("depthcheck.")}


def test_kernel_fingerprint_covers_everything_compiled_into_the_chain_kernels():
    """Every module the compiled dependencies (one trial's helpers, the shared row algebra, the
    codes) import, transitively, is hashed into the entry kernels' fingerprint or is host-only:
    adding a compiled dependency without fingerprinting it fails here."""
    import importlib
    from depthcheck.kernels.backends.numba import trial
    fingerprinted = {m.__name__ for m in trial.KERNEL_SOURCES} | {trial.__name__}
    for name in ("depthcheck.kernels.backends._rowops", "depthcheck.kernels.chain.codes",
                 "depthcheck.kernels.random.philox", "depthcheck.kernels.backends.numba.wy",
                 "depthcheck.kernels.backends.numba.blas"):
        assert name in fingerprinted, name
    todo, seen = [trial.__name__], set()
    while todo:
        name = todo.pop()
        if name in seen or name in _HOST_ONLY:
            continue
        seen.add(name)
        assert name in fingerprinted, f"{name} is compiled into the kernels but not fingerprinted"
        todo.extend(_module_imports(importlib.import_module(name)))


def test_entry_kernels_close_over_the_fingerprint():
    """The cached entry kernels' closures hold ``kernel_fingerprint()``, so numba's cache key
    changes with any fingerprinted source (the mechanism tested above)."""
    from depthcheck.kernels.backends.numba import fused, fused_grad, reduced, trial
    fp = trial.kernel_fingerprint()
    assert fp != source_fingerprint(trial)
    for kernel in (fused._fused_forward, fused_grad._fused_grad):
        cells = [c.cell_contents for c in kernel.py_func.__closure__]
        assert cells == [fp], kernel.py_func.__name__
    # the reduced kernels compile in fused_grad's readout and backward pieces too
    fp_reduced = trial.kernel_fingerprint(fused_grad)
    assert fp_reduced != fp
    for kernel in (reduced._reduced_forward, reduced._reduced_grad):
        cells = [c.cell_contents for c in kernel.py_func.__closure__]
        assert cells == [fp_reduced], kernel.py_func.__name__
