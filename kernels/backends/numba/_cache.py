"""Disk-cache invalidation for numba kernels that compile in code from other files.

numba keys a cached function on its own source file (path, mtime, size) and its bytecode, not on
the functions it calls from other modules, whose machine code is nevertheless baked into the
cached object: after an edit to ``kernels/random/philox.py`` a cached ``kernels/backends/numba/fused.py`` kernel
would keep running the old random-number code. numba's cache key does include the values of a
function's closure variables, so an entry kernel built inside a factory that closes over
``source_fingerprint(dependencies)`` is recompiled exactly when a dependency's source changes.
Helpers called only from such entry kernels are left uncached (they are compiled into them).
The chain kernels close over ``depthcheck.kernels.backends.numba.trial.kernel_fingerprint()``, the hash
of every file whose code or constants they compile in (``trial.KERNEL_SOURCES``: Philox, the codes,
the shared row algebra ``depthcheck.kernels.backends._rowops``, BLAS and compact-WY helpers, ...).
"""
from __future__ import annotations

import hashlib

__all__ = ["source_fingerprint"]


def source_fingerprint(*modules) -> int:
    """A 56-bit hash (a non-negative int, a cheap numba constant) of the modules' source files."""
    h = hashlib.sha256()
    for mod in modules:
        with open(mod.__file__, "rb") as f:
            h.update(f.read())
    return int.from_bytes(h.digest()[:7], "little")
