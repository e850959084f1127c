"""Fingerprints of the code that produces evidence: stored evidence is reused only when the
claim's parameters *and* this code are unchanged.

A task's store key holds a hash of (its configuration, its chunk layout, the code fingerprint of
its claim). The fingerprint covers every source file of the installed ``depthcheck`` package
that can change a number (``theory``, ``kernels``, ``validation`` except the report, the CLI, the
lock, provenance, executors and the benchmarks, which only format, guard, schedule or time) and the source of the claim's own module (for a
package: every ``.py`` file under it), so a user's edit to their claim module or to a library
function it calls (``theory/isometry.py``, say) invalidates exactly the evidence it could have
changed. Content hashes, not modification times: a checkout, a copy or ``touch`` changes nothing.
"""
from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

__all__ = ["code_fingerprint", "package_fingerprint", "module_files"]

#: files of the package that cannot change evidence (relative to the package root)
_EXCLUDED = ("validation/run/report.py", "validation/run/cli.py", "validation/run/lock.py",
             "validation/run/provenance.py", "validation/run/executors.py", "validation/bench/")
_ROOTS = ("theory", "kernels", "validation")


def _package_dirs() -> list[tuple[str, Path]]:
    out = []
    for name in _ROOTS:
        spec = importlib.util.find_spec(f"depthcheck.{name}")
        out.append((name, Path(spec.origin).parent))
    return out


def _digest(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for label, path in sorted(files, key=lambda t: t[0]):
        h.update(label.encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def package_fingerprint() -> str:
    """Hash of every evidence-relevant source file of the depthcheck package."""
    files = []
    for name, root in _package_dirs():
        for path in root.rglob("*.py"):
            rel = f"{name}/{path.relative_to(root).as_posix()}"
            if not any(rel == e or (e.endswith("/") and rel.startswith(e)) for e in _EXCLUDED):
                files.append((rel, path))
    return _digest(files)


def module_files(module: str) -> list[tuple[str, Path]]:
    """The source files of ``module`` (every ``.py`` under it for a package)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"claim module {module!r} has no source file to fingerprint")
    origin = Path(spec.origin)
    if spec.submodule_search_locations:          # a package: all of its files
        return [(f"{module}/{p.relative_to(origin.parent).as_posix()}", p)
                for p in origin.parent.rglob("*.py")]
    return [(module, origin)]


@lru_cache(maxsize=None)
def code_fingerprint(module: str) -> str:
    """Fingerprint of the code behind the claims of ``module``: the package's own source and the
    module's source (cached per process; a long-lived process that edits code must call
    ``code_fingerprint.cache_clear()`` and ``package_fingerprint.cache_clear()``)."""
    h = hashlib.sha256(package_fingerprint().encode())
    h.update(_digest(module_files(module)).encode())
    return h.hexdigest()[:16]
