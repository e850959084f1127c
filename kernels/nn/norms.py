"""Batch-normalisation variants and their vector-Jacobian products, by hand.

Arrays have shape ``(..., d, n)``: each ROW (one feature / hidden unit) is normalised over the
``n`` samples of the batch (the last axis); leading axes are independent Monte Carlo trials.

Kinds (``NORMS``):

``"none"``
    identity.
``"bn"``
    standard batch norm in training mode: subtract the row's batch mean, divide by the biased
    (1/n) batch standard deviation; no eps, no affine. Equals ``torch.nn.BatchNorm1d(d,
    affine=False, eps=0)`` in training mode applied to ``Zᵀ``. The "standard BN" variant of
    Meterez et al. [1]_ (Sec. 3 remark, Fig. G6) and the centred BN of Daneshmand et al. [2]_
    (Fig. 2).
``"bn_nomean"``
    Bn(H) = diag((1/n) H Hᵀ)^{-1/2} H: each row divided by its root-mean-square over the batch,
    so every row has Euclidean norm sqrt(n). The BN of Daneshmand et al. [2]_, eq. (2) with
    α = 1, β = 0 and no mean correction.
``"rownorm"``
    Bn(X) = diag(X Xᵀ)^{-1/2} X: unit row norms. Meterez et al. [1]_, eq. (4).

Jacobians (per row x ∈ R^n, the map acts on each row independently):

* ``rownorm`` / ``bn_nomean``: y = s x/‖x‖ with s = 1 / s = sqrt(n). Then
  J = ∂y/∂x = (s/‖x‖)(I − y yᵀ/s²), symmetric, so the VJP is
  dx = (s/‖x‖)(dy − y (yᵀdy)/s²). Batched over rows: ``dZ = (dY − Y·Σ(Y⊙dY)/s²) / r`` with
  r = ‖x‖/s the per-row divisor (Y = Z/r).
* ``bn``: with the centring P = I − 11ᵀ/n, y = sqrt(n) P x/‖P x‖ and
  J = (sqrt(n)/‖Px‖)(I − y yᵀ/n) P, so dx = Jᵀdy = (sqrt(n)/‖Px‖) P (I − y yᵀ/n) dy. Batched:
  with σ = ‖Px‖/sqrt(n) (the biased std), ``dC = (dY − Y·mean(Y⊙dY))/σ`` and
  ``dZ = dC − mean(dC)`` (means over the last axis).

Degenerate batches: a row with zero variance (``bn``; detected exactly, or when the std is at
the rounding level of the row's magnitude) or zero norm (``bn_nomean``, ``rownorm``) raises
``ValueError`` naming the first such row, never a NaN.

Scale: rows with huge or tiny entries (where ``C·C`` would overflow or go subnormal) are first
divided by an exact power of two, so every finite row whose divisor is a normal number is
normalised correctly; a divisor that itself overflows or underflows the dtype raises
``ValueError`` saying "overflows" / "underflows", and inf/NaN entries (reaching the engine's
unchecked path after an overflow upstream) are named as such.

References
----------
.. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012.
.. [2] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids Rank
   Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from depthcheck.theory._checks import as_float_array, check_choice

__all__ = ["NORMS", "NormCache", "norm_forward", "norm_backward"]

NORMS = ("none", "bn", "bn_nomean", "rownorm")

# bn: a std below this many ulps of the row's largest entry is rounding noise of a constant row.
_BN_ULPS = 8.0


class NormCache(NamedTuple):
    """What ``norm_backward`` needs: the kind, the output ``Y`` and the per-row divisor.

    ``scale`` has shape ``(..., d, 1)``: ‖x‖ (rownorm), ‖x‖/sqrt(n) (bn_nomean), the biased std
    (bn); ``None`` for ``"none"``.
    """
    kind: str
    Y: np.ndarray
    scale: Optional[np.ndarray]


def norm_forward(kind: str, Z) -> tuple[np.ndarray, NormCache]:
    """Normalise each row of ``Z`` (shape ``(..., d, n)``) over its last axis.

    Returns ``(Y, cache)``; see the module docstring for the formulas and sources. Raises
    ``ValueError`` naming ``norm kind`` for an unknown kind, ``Z`` for bad shape/NaN/inf, and
    naming the row for a degenerate batch (zero variance / zero norm).
    """
    check_choice(kind, "norm kind", NORMS)
    Z = as_float_array(Z, "Z", min_ndim=2)
    return _forward(kind, Z)


def norm_backward(kind: str, cache: NormCache, dY) -> np.ndarray:
    """Vector-Jacobian product dZ = Jᵀ dY of ``norm_forward(kind, Z)`` (formulas in module doc).

    ``cache`` is the second output of ``norm_forward`` with the same ``kind``; ``dY`` has the
    shape of the forward output (no broadcasting).
    """
    check_choice(kind, "norm kind", NORMS)
    if not isinstance(cache, NormCache):
        raise ValueError(f"cache must be the NormCache returned by norm_forward, got "
                         f"{type(cache).__name__}")
    if cache.kind != kind:
        raise ValueError(f"cache was produced by norm kind {cache.kind!r}, not {kind!r}")
    dY = as_float_array(dY, "dY", min_ndim=2)
    if dY.shape != cache.Y.shape:
        raise ValueError(f"dY must have the forward output's shape {cache.Y.shape}, "
                         f"got {dY.shape}")
    return _backward(cache, dY)


# Unchecked versions for the engine's inner loops (inputs already validated).
def _forward(kind: str, Z: np.ndarray) -> tuple[np.ndarray, NormCache]:
    if kind == "none":
        return Z, NormCache(kind, Z, None)
    n = Z.shape[-1]
    # The plain formulas first; rows whose divisor came out non-finite or so small that
    # squares of its entries may have gone subnormal are recomputed by ``_rescaled``.
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if kind == "bn":
            C = Z - Z.mean(axis=-1, keepdims=True)
            scale = np.sqrt(np.mean(C * C, axis=-1, keepdims=True))
        else:  # rownorm / bn_nomean: divide by ‖x‖ / s
            scale = np.sqrt(np.sum(Z * Z, axis=-1, keepdims=True))
            if kind == "bn_nomean":
                scale = scale / np.sqrt(n)
    lo, hi = _safe_range(Z.dtype)
    redo = ~((scale >= lo) & (scale <= hi))  # also NaN
    if redo.any():
        return _rescaled(kind, Z, redo)
    if kind == "bn":
        zmax = Z.max(axis=-1, keepdims=True)
        zmin = Z.min(axis=-1, keepdims=True)
        tol = _BN_ULPS * np.finfo(Z.dtype).eps * np.maximum(np.abs(zmax), np.abs(zmin))
        bad = (zmax == zmin) | ~(scale > tol)
        if np.any(bad):
            _raise_degenerate(kind, bad, "zero variance over the batch")
        Y = C / scale
        return Y, NormCache(kind, Y, scale)
    Y = Z / scale
    return Y, NormCache(kind, Y, scale)


_SAFE_RANGE: dict = {}


def _safe_range(dtype) -> tuple[float, float]:
    """(lo, hi): a finite divisor >= lo comes out of the plain formulas exact to well below one
    ulp (lo² is 2^16 times the smallest normal number, so the subnormal rounding of the tiny
    squares in the sum moves it by at most 2^-69 relative); hi is the largest finite number."""
    r = _SAFE_RANGE.get(dtype)
    if r is None:
        fi = np.finfo(dtype)
        r = _SAFE_RANGE[dtype] = (float(np.sqrt(fi.tiny)) * 2.0 ** 8, float(fi.max))
    return r


def _rescaled(kind: str, Z: np.ndarray, redo: np.ndarray) -> tuple[np.ndarray, NormCache]:
    """``_forward`` with every row divided by 2^e first, 2^(e-1) <= max|row| < 2^e.

    Scaling by a power of two is exact, so a row that the plain formulas handle without
    overflow or subnormals gets the same bits either way; the rows in ``redo`` (huge or tiny
    entries) get a correctly scaled result instead of an overflowed or underflowed one.
    """
    n = Z.shape[-1]
    finite = np.all(np.isfinite(Z), axis=-1, keepdims=True)
    if not np.all(finite):
        _raise_degenerate(kind, ~finite, "inf or NaN entries", "overflow upstream",
                          "an earlier step overflowed, so there is nothing to normalise")
    _, e = np.frexp(np.max(np.abs(Z), axis=-1, keepdims=True))
    e = np.where(redo, e, 0)  # rows the plain formulas handle keep their exact bits
    Zs = np.ldexp(Z, -e)
    if kind == "bn":
        C = Zs - Zs.mean(axis=-1, keepdims=True)
        scale_s = np.sqrt(np.mean(C * C, axis=-1, keepdims=True))
        zmax = Zs.max(axis=-1, keepdims=True)
        zmin = Zs.min(axis=-1, keepdims=True)
        tol = _BN_ULPS * np.finfo(Z.dtype).eps * np.maximum(np.abs(zmax), np.abs(zmin))
        bad = (zmax == zmin) | ~(scale_s > tol)
        if np.any(bad):
            _raise_degenerate(kind, bad, "zero variance over the batch")
    else:
        C = Zs
        scale_s = np.sqrt(np.sum(Zs * Zs, axis=-1, keepdims=True))
        if kind == "bn_nomean":
            scale_s = scale_s / np.sqrt(n)
        bad = ~(scale_s > 0)
        if np.any(bad):
            _raise_degenerate(kind, bad, "zero norm over the batch (an all-zero row)")
    with np.errstate(over="ignore", under="ignore"):
        scale = np.ldexp(scale_s, e)
    what = "standard deviation" if kind == "bn" else "norm"
    tiny = np.finfo(Z.dtype).tiny
    if np.any(~np.isfinite(scale)):
        _raise_degenerate(kind, ~np.isfinite(scale),
                          f"a {what} that overflows {Z.dtype} (larger than "
                          f"{np.finfo(Z.dtype).max:.3g})", "overflow",
                          f"the divisor is not representable in {Z.dtype}")
    if np.any(scale < tiny):
        _raise_degenerate(kind, scale < tiny,
                          f"a {what} that underflows {Z.dtype} (below the smallest normal "
                          f"number {tiny:.3g}; the backward pass divides by it)", "underflow",
                          f"the divisor is not representable in {Z.dtype}")
    Y = C / scale_s
    return Y, NormCache(kind, Y, scale)


def _backward(cache: NormCache, dY: np.ndarray) -> np.ndarray:
    kind, Y, scale = cache
    if kind == "none":
        return dY
    if kind == "rownorm":  # s = 1
        return (dY - Y * np.sum(Y * dY, axis=-1, keepdims=True)) / scale
    if kind == "bn_nomean":  # s² = n
        return (dY - Y * np.mean(Y * dY, axis=-1, keepdims=True)) / scale
    if kind == "bn":
        dC = (dY - Y * np.mean(Y * dY, axis=-1, keepdims=True)) / scale
        return dC - dC.mean(axis=-1, keepdims=True)
    raise ValueError(f"norm kind={kind!r} is not one of {NORMS}")


def _raise_degenerate(kind: str, bad: np.ndarray, what: str, problem: str = "degenerate batch",
                      consequence: str = "the normalisation is undefined there"):
    idx = np.argwhere(bad[..., 0])
    first = tuple(int(i) for i in idx[0])
    where = f"row {first[-1]}" + (f" of trial {first[:-1]}" if len(first) > 1 else "")
    raise ValueError(f"norm {kind!r}: {problem}, {where} of Z has {what} "
                     f"({len(idx)} such row(s)); {consequence}")
