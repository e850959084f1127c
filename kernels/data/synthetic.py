"""Synthetic data sets in the papers' layout: X ``(features, n)`` (columns are samples),
labels ``(n,)``.

* :func:`gaussian_mixture` and :func:`linear_teacher`: the synthetic set-up of Basu et al. [1]_
  Sec. 4: 10-dimensional samples from a mixture of 3 Gaussians, 400 samples per Gaussian, "each
  Gaussian with randomly scaled and rotated covariance"; 3-dimensional targets = a randomly
  initialised linear map of the samples. The paper gives no means, scales or teacher law: the
  defaults below are our reconstruction (unconfirmed, documented per argument).
* :func:`whiten`: exact whitening ``(1/n) X Xᵀ = I`` (the Σ_xx = I of Saxe et al. [2]_).
* :func:`haar_orthogonal`, :func:`one_hot`: small helpers; :class:`Dataset`: a labelled set
  with an optional test split (``depthcheck.kernels.data.images.load_digits_data`` returns one).

References
----------
.. [1] Basu, Mukherjee, Vasudevan, "Layer Dynamics of Linearised Neural Nets",
   arXiv:1904.10689, Sec. 4.
.. [2] Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of learning in
   deep linear neural networks", ICLR 2014, arXiv:1312.6120.
.. [3] Mezzadri, "How to generate random matrices from the classical compact groups",
   Notices of the AMS 54 (2007), arXiv:math-ph/0609050.

Examples
--------
>>> import numpy as np
>>> from depthcheck.kernels.data import gaussian_mixture, linear_teacher, whiten
>>> X, y = gaussian_mixture(np.random.default_rng(0), n_per_class=50)
>>> X.shape, y.shape, np.bincount(y).tolist()
((10, 150), (150,), [50, 50, 50])
>>> Y, T = linear_teacher(np.random.default_rng(1), X)
>>> Y.shape, T.shape
((3, 150), (3, 10))
>>> Xw, M, m = whiten(X)
>>> np.allclose(Xw @ Xw.T / X.shape[1], np.eye(10))
True
"""
from __future__ import annotations

import importlib
import math
from typing import NamedTuple, Optional

import numpy as np

from depthcheck.theory._checks import as_float_array, check_generator, check_positive_int

__all__ = ["Dataset", "gaussian_mixture", "linear_teacher", "whiten", "one_hot",
           "haar_orthogonal"]

#: names that moved to ``depthcheck.kernels.data.images`` (served lazily below until every
#: caller imports them from ``depthcheck.kernels.data``)
_MOVED = ("load_digits_data", "STANDARDISE")


def __getattr__(name):
    # Deprecated location; importlib (not an import statement) keeps the module graph acyclic:
    # images imports Dataset from here.
    if name in _MOVED:
        return getattr(importlib.import_module("depthcheck.kernels.data.images"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Dataset(NamedTuple):
    """A labelled data set with an optional test split (``None`` when there is none).

    X_train ``(p, n_train)``, y_train ``(n_train,)`` int, X_test ``(p, n_test)``, y_test
    ``(n_test,)``; ``mean``/``scale`` are the standardisation statistics fitted on the training
    part (``(p, 1)`` arrays or scalars), so ``X_std = (X_raw − mean) / scale``.
    """
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: Optional[np.ndarray]
    y_test: Optional[np.ndarray]
    mean: object
    scale: object


def haar_orthogonal(rng, d: int) -> np.ndarray:
    """A Haar-distributed d × d orthogonal matrix (QR of a Gaussian with the sign fix of
    Mezzadri [3]_); a small local helper so the data module stays self-contained."""
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def gaussian_mixture(rng, *, n_per_class: int = 400, dim: int = 10, n_classes: int = 3,
                     mean_scale: float = 1.0, scale_range=(0.5, 2.0), shuffle: bool = False):
    """Samples of a mixture of ``n_classes`` Gaussians in ``dim`` dimensions ([1]_ Sec. 4).

    Component k: mean ``μ_k ~ N(0, mean_scale² I)``; covariance ``Σ_k = Q_k diag(s_k²) Q_kᵀ``
    with ``Q_k`` Haar-orthogonal ("rotated") and standard deviations ``s_k`` i.i.d. uniform on
    ``scale_range`` ("randomly scaled"); ``n_per_class`` samples each ([1]_: 3 × 400 in 10-D).
    Means, scale law and ranges are our choice (the paper does not state them).

    Returns ``(X, labels)``: X ``(dim, n_classes·n_per_class)`` (columns are samples), labels
    ``(n,)`` int component indices; samples grouped by component unless ``shuffle``.
    """
    rng = check_generator(rng)
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    dim = check_positive_int(dim, "dim")
    n_classes = check_positive_int(n_classes, "n_classes")
    mean_scale = float(mean_scale)
    if not (math.isfinite(mean_scale) and mean_scale >= 0):
        raise ValueError(f"mean_scale must be finite and >= 0, got {mean_scale}")
    lo, hi = _range(scale_range, "scale_range")
    blocks, labels = [], []
    for k in range(n_classes):
        mu = mean_scale * rng.standard_normal((dim, 1))
        Q = haar_orthogonal(rng, dim)
        s = rng.uniform(lo, hi, size=dim)
        G = rng.standard_normal((dim, n_per_class))
        blocks.append(mu + (Q * s) @ G)  # Q diag(s) G has covariance Q diag(s²) Qᵀ
        labels.append(np.full(n_per_class, k, dtype=np.intp))
    X = np.concatenate(blocks, axis=1)
    y = np.concatenate(labels)
    if shuffle:
        perm = rng.permutation(X.shape[1])
        X, y = X[:, perm], y[perm]
    return X, y


def linear_teacher(rng, X, *, out_dim: int = 3, scale: Optional[float] = None,
                   noise: float = 0.0):
    """Targets ``Y = T X (+ noise)`` of a random linear teacher ([1]_ Sec. 4: "3-dimensional
    targets = sample × randomly initialised matrix").

    ``T`` has i.i.d. N(0, scale²) entries, default ``scale = 1/√p`` (p = rows of X) so that
    targets have the inputs' per-coordinate scale (our choice of law); ``noise`` adds i.i.d.
    N(0, noise²) to every target entry. Returns ``(Y, T)`` with Y ``(out_dim, n)``,
    T ``(out_dim, p)``.
    """
    rng = check_generator(rng)
    X = as_float_array(X, "X", ndim=2)
    out_dim = check_positive_int(out_dim, "out_dim")
    p = X.shape[0]
    scale = 1.0 / math.sqrt(p) if scale is None else float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale}")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    T = scale * rng.standard_normal((out_dim, p))
    Y = T @ X
    if noise > 0:
        Y = Y + noise * rng.standard_normal(Y.shape)
    return Y, T


def whiten(X, *, center: bool = True):
    """ZCA whitening: ``Xw = M (X − m)`` with ``(1/n) Xw Xwᵀ = I_p`` exactly (up to rounding).

    ``M = C^{-1/2}``, ``C = (1/n)(X − m)(X − m)ᵀ`` (m the row means if ``center``, else 0). Saxe
    et al.'s analysis [2]_ assumes Σ_xx = I. Returns ``(Xw, M, m)``. Raises
    ``ValueError`` naming ``X`` when C is singular (fewer independent samples than features).
    """
    X = as_float_array(X, "X", ndim=2)
    p, n = X.shape
    m = X.mean(axis=1, keepdims=True) if center else np.zeros((p, 1))
    Xc = X - m
    C = Xc @ Xc.T / n
    evals, U = np.linalg.eigh(C)
    if evals[0] <= 1e-12 * max(evals[-1], 1e-300):
        raise ValueError(f"X has a (numerically) singular covariance (smallest eigenvalue "
                         f"{evals[0]:.3g}); whitening needs n > p samples in general position")
    M = (U / np.sqrt(evals)) @ U.T
    return M @ Xc, M, m


def one_hot(labels, n_classes: int) -> np.ndarray:
    """One-hot targets ``(n_classes, n)`` (or ``(B, n_classes, n)``) from integer labels."""
    n_classes = check_positive_int(n_classes, "n_classes")
    y = np.asarray(labels)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    return np.moveaxis(np.eye(n_classes)[y], -1, -2)


def _range(r, name):
    try:
        lo, hi = (float(v) for v in r)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi), got {r!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"{name} must satisfy 0 < lo <= hi, got {r!r}")
    return lo, hi
