"""Shared helpers of the Meterez et al. 2024 (arXiv 2310.02012) claims: the Fig. 1 input, φ's
certified floor, means with +inf entries, the parts of a family."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.validation.claims.stats import mean_ci


_BIG = 1.7e308          # stands in for +inf in verdict intervals (results.json stays plain JSON)


def _chain_backend(backend: str) -> str:
    # Every chain of this module runs on the backend the run asked for; the engine registry
    # refuses by name what it cannot run (no fallback to numpy).
    return backend


def fig1_input(d: int, n: int, f: float, rng: np.random.Generator) -> np.ndarray:
    """The input of the authors' Fig. 1 notebook (§7.1): ``X0 = (1 − f) I + f u vᵀ`` with
    ``u ~ U[0,1]^d``, ``v ~ U[0,1]^n``; for n < d the first n columns of I. Shape ``(d, n)``."""
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
    """
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


