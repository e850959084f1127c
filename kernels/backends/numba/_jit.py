"""``njit_noalloc``: numba's ``njit`` for the kernels' inner functions, without reference counting.

A compiled numba function that receives arrays increments and decrements their reference counts
(atomic operations of numba's runtime, NRT) on entry and exit unless numba's refcount-pruning
pass can prove the pair unnecessary. A slice taken anywhere in the function (the ``cw[0:1].ctypes``
arguments of ``blas._gemm``, the refill of ``reduced._side_word``) defeats the pass, and the
counting then costs 5-25 ns per call on every call. Per layer and trial the Fig. 1 chain makes
dozens of such calls: at d = 32 they were 19% of its time (``perf``, one core of the AVX-512
Xeon in ``validation/bench/RESULTS.md``), and a side word of the reduced chain's ziggurat cost
27 ns instead of 2.

``njit_noalloc`` compiles with numba's ``_nrt=False`` option: no NRT at all, so array arguments
are borrowed from the caller, which holds them for the duration of the call, and nothing is
counted. The rule is in the name. Such a function may not allocate (``np.empty``, ``np.linalg``,
a slice assignment that may need a temporary) nor call a function that does, and it may return
an array only if it was passed one; numba refuses both at compile time ("NRT required but not
enabled", "Only accept returning of array passed into the function as argument"), so a breach
cannot run. numba compiles a callee with its caller's flags, so plain ``njit`` helpers called
from here are NRT-free too. Entry kernels, and the functions that allocate their work space,
keep plain ``njit``.
"""
from __future__ import annotations

from numba import njit

__all__ = ["njit_noalloc"]


def njit_noalloc(fn=None, **options):
    """``numba.njit(fn, _nrt=False, **options)``; usable bare (``@njit_noalloc``) or with options
    (``@njit_noalloc(cache=True)``)."""
    if fn is None:
        return lambda f: njit(_nrt=False, **options)(f)
    return njit(_nrt=False, **options)(fn)
