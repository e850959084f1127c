"""BLAS / LAPACK for the numba chain kernels: scipy's cython exports called without allocation.

Fortran column-major convention: a C-order (r, c) block with row stride s is the column-major
(c, r) matrix with leading dimension s. The routines are registered as named LLVM symbols (not
ctypes pointers) so that kernels calling them can be cached on disk. ``blas_single_thread``
limits BLAS to one thread while the kernels parallelise over Monte Carlo trials.
"""
from __future__ import annotations

import llvmlite.binding as _llvm
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

from depthcheck.kernels.backends.numba._jit import njit_noalloc

__all__ = ["blas_single_thread"]

_llvm.add_symbol("depthcheck_dgemm", get_cython_function_address("scipy.linalg.cython_blas",
                                                                   "dgemm"))
_llvm.add_symbol("depthcheck_dsyrk", get_cython_function_address("scipy.linalg.cython_blas",
                                                                   "dsyrk"))
_llvm.add_symbol("depthcheck_dpotrf", get_cython_function_address("scipy.linalg.cython_lapack",
                                                                    "dpotrf"))
_vp = types.voidptr
_dgemm = types.ExternalFunction("depthcheck_dgemm", types.void(*([_vp] * 13)))
_dsyrk = types.ExternalFunction("depthcheck_dsyrk", types.void(*([_vp] * 10)))
_dpotrf = types.ExternalFunction("depthcheck_dpotrf", types.void(*([_vp] * 5)))

# numpy scalars, not Python ints: numba types a global int as a literal and compiles a callee
# once per literal value it is passed (``_gemm`` was compiled nine times)
_N, _T_, _U, _L = (np.uint8(ord(c)) for c in "NTUL")


@njit_noalloc(cache=True)
def _gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, iw, dw, cw):
    """Column-major C <- alpha op(A) op(B) + beta C; A, B, C are array views (start pointers)."""
    cw[0] = ta
    cw[1] = tb
    iw[0] = m
    iw[1] = n
    iw[2] = k
    iw[3] = lda
    iw[4] = ldb
    iw[5] = ldc
    dw[0] = alpha
    dw[1] = beta
    _dgemm(cw[0:1].ctypes, cw[1:2].ctypes, iw[0:1].ctypes, iw[1:2].ctypes, iw[2:3].ctypes,
           dw[0:1].ctypes, A.ctypes, iw[3:4].ctypes, B.ctypes, iw[4:5].ctypes, dw[1:2].ctypes,
           C.ctypes, iw[5:6].ctypes)


@njit_noalloc(cache=True)
def _gram(H, G, small_is_n, iw, dw, cw):
    """Upper triangle (C-order) of the smaller Gram: HᵀH (n×n) if small_is_n else HHᵀ (d×d)."""
    d, n = H.shape
    # H C-order = column-major Hc = Hᵀ (n×d, ld n). HᵀH = Hc Hcᵀ ('N'); HHᵀ = Hcᵀ Hc ('T').
    # The column-major lower triangle of a symmetric result is the C-order upper triangle.
    cw[0] = _L
    if small_is_n:
        cw[1] = _N
        iw[0] = n
        iw[1] = d
    else:
        cw[1] = _T_
        iw[0] = d
        iw[1] = n
    iw[2] = n            # lda
    iw[3] = G.shape[0]   # ldc
    dw[0] = 1.0
    dw[1] = 0.0
    _dsyrk(cw[0:1].ctypes, cw[1:2].ctypes, iw[0:1].ctypes, iw[1:2].ctypes, dw[0:1].ctypes,
           H.ctypes, iw[2:3].ctypes, dw[1:2].ctypes, G.ctypes, iw[3:4].ctypes)


@njit_noalloc(cache=True)
def _cholesky_upper(G, iw, cw):
    """In place: C-order upper triangle of G (= column-major lower) -> its Cholesky factor.
    Returns LAPACK's info (0 on success)."""
    cw[0] = _L
    iw[0] = G.shape[0]
    iw[1] = G.shape[0]
    iw[2] = 0
    _dpotrf(cw[0:1].ctypes, iw[0:1].ctypes, G.ctypes, iw[1:2].ctypes, iw[2:3].ctypes)
    return iw[2]


_CONTROLLER = []


def _controller():
    """A cached threadpoolctl controller (building one scans the loaded libraries: ~10 ms)."""
    if not _CONTROLLER:
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (load it so the limit reaches it)
            from threadpoolctl import ThreadpoolController
            _CONTROLLER.append(ThreadpoolController())
        except ImportError:  # pragma: no cover
            _CONTROLLER.append(None)
    return _CONTROLLER[0]


class blas_single_thread:
    """Context manager: BLAS limited to one thread (the kernels parallelise over trials; a
    threaded BLAS inside each of them oversubscribes the cores). No-op without threadpoolctl."""

    def __enter__(self):
        ctl = _controller()
        self._ctx = None if ctl is None else ctl.limit(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.restore_original_limits()
        return False
