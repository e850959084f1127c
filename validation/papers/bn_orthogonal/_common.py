"""Shared helpers of the Meterez et al. 2024 (arXiv:2310.02012) claims: the Fig. 1 input, φ's
certified floor, means with +inf entries, the parts of a family."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.theory._checks import check_generator, check_positive_int
from depthcheck.validation.claims.stats import mean_ci


_BIG = 1.7e308          # stands in for +inf in verdict intervals (results.json stays plain JSON)


def _chain_backend(backend: str) -> str:
    # Every chain of this module runs on the backend the run asked for; the engine registry
    # refuses by name what it cannot run (no fallback to numpy).
    return backend


def fig1_input(d: int, n: int, f: float, rng: np.random.Generator) -> np.ndarray:
    """The input batch of Fig. 1 of Meterez et al. 2024: a small rank-one perturbation of I.

    ``X0 = (1 − f) I + f u vᵀ`` with ``u ~ U[0,1]^d`` and ``v ~ U[0,1]^n``; for ``n < d`` the
    first ``n`` columns of ``I`` (the input of the authors' Fig. 1 notebook, where ``n = d``).

    Parameters
    ----------
    d : int
        Width (rows), ``d >= 1``.
    n : int
        Batch size (columns), ``1 <= n <= d``.
    f : float
        Weight of the rank-one part, ``0 <= f <= 1`` (the figure uses 0.005).
    rng : numpy.random.Generator
        Source of ``u`` (drawn first) and ``v``.

    Returns
    -------
    numpy.ndarray
        ``X0``, shape ``(d, n)``.

    Raises
    ------
    ValueError
        If ``d`` or ``n`` is not a positive integer, ``n > d``, ``f`` is outside ``[0, 1]``, or
        ``rng`` is not a ``numpy.random.Generator``.

    References
    ----------
    Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
    Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012,
    Figure 1.

    Examples
    --------
    >>> import numpy as np
    >>> X0 = fig1_input(4, 3, 0.005, np.random.default_rng(0))
    >>> X0.shape
    (4, 3)
    >>> bool(np.all(np.abs(X0 - np.eye(4)[:, :3]) <= 0.005))
    True
    """
    d = check_positive_int(d, "d")
    n = check_positive_int(n, "n")
    if n > d:
        raise ValueError(f"n={n} exceeds d={d}: fig1_input takes the first n columns of I_d")
    if not 0.0 <= float(f) <= 1.0:
        raise ValueError(f"f must lie in [0, 1], got {f!r}")
    rng = check_generator(rng)
    u = rng.random(d)
    v = rng.random(n)
    return (1.0 - f) * np.eye(d)[:, :n] + f * np.outer(u, v)


def _input_rng(cfg: dict, *key) -> np.random.Generator:
    """The generator of a claim's fixed input: the same in every chunk (the paper draws its input
    once and reuses it for all runs), derived from ``cfg["input_seed"]`` and ``key``."""
    return np.random.default_rng([int(cfg["input_seed"])] + [int(k) for k in key])


def phi_floor(n: int) -> float:
    """A certified lower bound on φ(H) when ``depthcheck.theory.isometry.isometry_gap`` returns +inf.

    isometry_gap reports +inf when a Cholesky pivot of G = HᵀH (scaled to trace n) is below
    10·n·eps·G_kk <= 10 n² eps, or the factorisation fails; a pivot bounds λ_min(G) from above,
    so λ_min <= c n² eps with c = 10 (we allow c = 1000 for the rounding of G itself). With mean
    eigenvalue 1, φ = −(1/n) Σ log λ_i >= −(1/n) log λ_min − ((n−1)/n) log(n/(n−1)), hence
    φ >= (−log(1000 n² eps) − 1)/n. Used to turn +inf into a lower confidence limit: an
    infinite φ proves the mean is at least this large (never that it is small).

    Parameters
    ----------
    n : int
        Batch size (number of columns of H), ``n >= 1``.

    Returns
    -------
    float
        ``max(0, (−log(1000 n² eps) − 1)/n)``, eps the float64 machine epsilon.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, eq. 5 (the isometry gap φ).

    Examples
    --------
    >>> round(phi_floor(50), 4)
    0.4062
    >>> phi_floor(50) > phi_floor(100) > 0
    True
    """
    n = check_positive_int(n, "n")
    return max(0.0, (-math.log(1000.0 * n * n * np.finfo(np.float64).eps) - 1.0) / n)


def _mean_ci_inf(x, alpha, floor):
    """(estimate, (lo, hi)) of the mean of ``x`` where +inf entries are only known to be >=
    ``floor``: lo from the floor-substituted sample, hi = _BIG if any entry is infinite."""
    x = np.asarray(x, dtype=np.float64)
    inf = np.isinf(x)
    if not inf.any():
        e = mean_ci(x, alpha)
        return e.estimate, e.ci
    y = np.where(inf, floor, x)
    if np.all(y == y[0]):
        return float(y[0]), (float(y[0]), _BIG)
    e = mean_ci(y, alpha)
    return e.estimate, (e.ci[0], _BIG)


def _g(v) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if abs(v) >= _BIG:
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _clip(x) -> float:
    return float(np.clip(float(x), -_BIG, _BIG))


def _part(name, decision, statistic, ci, prediction, margin):
    return {"name": name, "decision": decision, "statistic": _clip(statistic),
            "ci": [_clip(ci[0]), _clip(ci[1])], "prediction": _clip(prediction),
            "margin": _clip(margin)}


