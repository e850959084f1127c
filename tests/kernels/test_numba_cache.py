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
