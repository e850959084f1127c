"""Public hypothesis strategies for property tests of depthcheck (and of users' own code).

Random matrices are built from a hypothesis-drawn integer seed fed to
``numpy.random.default_rng`` (so hypothesis can replay and shrink the seed) plus, where it
matters, hypothesis-drawn singular values or spectra (so failures shrink towards simple
spectra). Everything is float64 and shaped like the papers: H is ``(d, n)``, columns = samples.

Example::

    from hypothesis import given
    from depthcheck.kernels.strategies import full_rank_batches, haar_matrices
    from depthcheck.theory.isometry import isometry_gap

    @given(full_rank_batches(d=6), haar_matrices(6))
    def test_gap_is_rotation_invariant(H, W):
        assert abs(isometry_gap(W @ H) - isometry_gap(H)) < 1e-10
"""
from __future__ import annotations

import numbers

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from depthcheck.theory._checks import check_positive_int
from depthcheck.kernels.nn.activations import ACTIVATIONS as _ACTIVATIONS
from depthcheck.kernels.random.haar import sample_orthogonal, sample_special_orthogonal, sample_stiefel
from depthcheck.kernels.nn.network import ORDERS as _ORDERS
from depthcheck.kernels.nn.norms import NORMS as _NORMS

__all__ = [
    "seeds",
    "full_rank_batches",
    "batches_with_gram_spectrum",
    "haar_matrices",
    "network_specs",
    "NORMS",
    "ACTIVATIONS",
    "ORDERS",
]

# Single source of truth: the engine's own option lists.
NORMS = _NORMS
ACTIVATIONS = _ACTIVATIONS
ORDERS = _ORDERS


def seeds() -> SearchStrategy:
    """Integer seeds for ``numpy.random.default_rng`` (hypothesis shrinks them towards 0)."""
    return st.integers(min_value=0, max_value=2**63 - 1)


def _opt_int(value, name: str):
    return None if value is None else check_positive_int(value, name)


def _positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def full_rank_batches(d: int | None = None, n: int | None = None, *, max_d: int = 8,
                      min_singular: float = 0.1, max_singular: float = 1.0) -> SearchStrategy:
    """Strategy for ``(d, n)`` float64 batches H of full column rank, n <= d.

    H = U diag(s) Vᵀ with U a uniform d×n Stiefel frame, V Haar on O(n) (both from a drawn
    seed) and singular values s drawn by hypothesis in [min_singular, max_singular], so
    cond(H) <= max_singular/min_singular. A fixed ``d``/``n`` is used as given; otherwise d is
    drawn from [max(1, n), max(n, max_d)] and n from [1, d].
    """
    d = _opt_int(d, "d")
    n = _opt_int(n, "n")
    max_d = check_positive_int(max_d, "max_d")
    lo = _positive_float(min_singular, "min_singular")
    hi = _positive_float(max_singular, "max_singular")
    if lo > hi:
        raise ValueError(f"min_singular={lo} must be <= max_singular={hi}")
    if d is not None and n is not None and n > d:
        raise ValueError(f"n must be <= d for full column rank, got n={n}, d={d}")

    @st.composite
    def _build(draw):
        dd = d if d is not None else draw(st.integers(max(1, n or 1), max(n or 1, max_d)))
        nn = n if n is not None else draw(st.integers(1, dd))
        s = np.array(draw(st.lists(st.floats(lo, hi), min_size=nn, max_size=nn)))
        rng = np.random.default_rng(draw(seeds()))
        U = sample_stiefel((), dd, nn, rng)
        V = sample_orthogonal((), nn, rng)
        return (U * s) @ V.T

    return _build()


def batches_with_gram_spectrum(eigenvalues, d: int | None = None, *,
                               max_extra_rows: int = 4) -> SearchStrategy:
    """Strategy for H (d×n) whose sample Gram HᵀH has exactly the spectrum ``eigenvalues``.

    ``eigenvalues``: a sequence of n finite numbers >= 0, or a strategy producing such
    sequences. H = U diag(sqrt λ) Vᵀ with U a uniform d×n Stiefel frame and V Haar on O(n)
    from a drawn seed, so HᵀH = V diag(λ) Vᵀ (exact up to rounding). d defaults to a draw from
    [n, n + max_extra_rows]; a fixed d must be >= n.
    """
    d = _opt_int(d, "d")
    max_extra = check_positive_int(max_extra_rows, "max_extra_rows", minimum=0)

    def _check_spectrum(lam) -> np.ndarray:
        arr = np.asarray(lam, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"eigenvalues must be a non-empty 1-D sequence of finite numbers "
                             f">= 0, got {lam!r}")
        if d is not None and arr.size > d:
            raise ValueError(f"eigenvalues has n={arr.size} entries but d={d} < n")
        return arr

    spectrum = eigenvalues if isinstance(eigenvalues, SearchStrategy) \
        else st.just(_check_spectrum(eigenvalues))

    @st.composite
    def _build(draw):
        lam = _check_spectrum(draw(spectrum))
        nn = lam.size
        dd = d if d is not None else draw(st.integers(nn, nn + max_extra))
        rng = np.random.default_rng(draw(seeds()))
        U = sample_stiefel((), dd, nn, rng)
        V = sample_orthogonal((), nn, rng)
        return (U * np.sqrt(lam)) @ V.T

    return _build()


def haar_matrices(d: int | None = None, *, special: bool = False,
                  max_d: int = 8) -> SearchStrategy:
    """Strategy for Haar orthogonal ``(d, d)`` matrices (on SO(d) if ``special``) from drawn seeds.

    d is fixed if given, else drawn from [1, max_d].
    """
    d = _opt_int(d, "d")
    max_d = check_positive_int(max_d, "max_d")
    sampler = sample_special_orthogonal if special else sample_orthogonal

    @st.composite
    def _build(draw):
        dd = d if d is not None else draw(st.integers(1, max_d))
        return sampler((), dd, np.random.default_rng(draw(seeds())))

    return _build()


def network_specs(*, max_depth: int = 4, min_width: int = 2, max_width: int = 8,
                  square: bool = True, norms=NORMS, activations=ACTIVATIONS,
                  orders=ORDERS) -> SearchStrategy:
    """Strategy for small network descriptions valid for ``depthcheck.kernels.forward_backward``.

    Dicts with keys

    * ``widths``: (d_0, ..., d_L), L = number of weight matrices (weights[l] is
      (d_{l+1}, d_l)); L - 1 hidden layers, 1 <= L - 1 <= max_depth, the last matrix is the
      output layer. Hidden layers are square (d_0 = ... = d_{L-1}, needed for Haar O(d) weights)
      when ``square`` or when ``residual`` is set; the output width d_L is drawn freely;
    * ``norm`` in ("none", "bn", "bn_nomean", "rownorm"), ``activation`` in ("identity", "relu",
      "leaky_relu", "tanh", "sin", "sigmoid"), ``order`` in ("norm_act", "act_norm");
    * ``residual``: None (no skip) or the branch strength γ in [0.1, 2] of H + γ W H
      (Daneshmand et al., arXiv:2003.01652, eq. (1));
    * ``gains``: tuple of L - 1 per-hidden-layer pre-activation gains in [0.5, 2].

    Use as ``forward_backward(X, weights, Y, **{k: spec[k] for k in ("norm", "activation",
    "order", "residual", "gains")})`` with weights shaped from ``spec["widths"]``.
    """
    max_depth = check_positive_int(max_depth, "max_depth")
    min_width = check_positive_int(min_width, "min_width")
    max_width = check_positive_int(max_width, "max_width")
    if min_width > max_width:
        raise ValueError(f"min_width={min_width} must be <= max_width={max_width}")
    for name, got, allowed in (("norms", norms, NORMS), ("activations", activations, ACTIVATIONS),
                               ("orders", orders, ORDERS)):
        got = tuple(got)
        if not got or any(g not in allowed for g in got):
            raise ValueError(f"{name}={got!r} must be a non-empty subset of {allowed}")

    @st.composite
    def _build(draw):
        n_hidden = draw(st.integers(1, max_depth))
        residual = draw(st.one_of(st.none(), st.floats(0.1, 2.0)))
        width = st.integers(min_width, max_width)
        if square or residual is not None:
            hidden = (draw(width),) * n_hidden
        else:
            hidden = tuple(draw(st.lists(width, min_size=n_hidden, max_size=n_hidden)))
        d0 = hidden[0] if (square or residual is not None) else draw(width)
        return {
            "widths": (d0,) + hidden + (draw(width),),
            "norm": draw(st.sampled_from(tuple(norms))),
            "activation": draw(st.sampled_from(tuple(activations))),
            "order": draw(st.sampled_from(tuple(orders))),
            "residual": residual,
            "gains": tuple(draw(st.lists(st.floats(0.5, 2.0), min_size=n_hidden,
                                         max_size=n_hidden))),
        }

    return _build()
