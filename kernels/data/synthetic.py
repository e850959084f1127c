"""Data sets of the training experiments in the papers' layout: X ``(features, n)``, labels (n,).

* :func:`gaussian_mixture` and :func:`linear_teacher`: seed 003's synthetic set-up (Basu et al.,
  Sec. 4; research ``rank_lnn_lcw.md`` B.6): 10-dimensional samples from a mixture of 3
  Gaussians, 400 samples per Gaussian, "each Gaussian with randomly scaled and rotated
  covariance"; 3-dimensional targets = a randomly initialised linear map of the samples. The
  seed gives no means, scales or teacher law: the defaults below are our reconstruction
  ([UNCONFIRMED], documented per argument).
* :func:`whiten`: exact whitening ``(1/n) X Xᵀ = I`` (Saxe et al.'s Σ_xx = I, research B.4/B.7).
* :func:`load_digits_data`: scikit-learn's bundled 8×8 digits (1797 images, 64 features, 10
  classes; shipped inside the package, never downloaded), with standardisation options and a
  deterministic train/test split drawn from an explicit ``rng``. Used for seed 000 Sec. 6.1
  (deep sigmoid MLPs) and seed 003's ReLU experiments (the papers used MNIST/CIFAR; digits is the
  offline stand-in).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple, Optional

import numpy as np

from depthcheck.theory._checks import (as_float_array, check_choice, check_generator, check_positive_int)

__all__ = ["Dataset", "STANDARDISE", "gaussian_mixture", "linear_teacher", "whiten",
           "load_digits_data", "one_hot", "haar_orthogonal"]

STANDARDISE = ("none", "unit", "feature", "global")


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
    Mezzadri 2007); a small local helper so the data module stays self-contained."""
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def gaussian_mixture(rng, *, n_per_class: int = 400, dim: int = 10, n_classes: int = 3,
                     mean_scale: float = 1.0, scale_range=(0.5, 2.0), shuffle: bool = False):
    """Samples of a mixture of ``n_classes`` Gaussians in ``dim`` dimensions (seed 003, Sec. 4).

    Component k: mean ``μ_k ~ N(0, mean_scale² I)``; covariance ``Σ_k = Q_k diag(s_k²) Q_kᵀ``
    with ``Q_k`` Haar-orthogonal ("rotated") and standard deviations ``s_k`` i.i.d. uniform on
    ``scale_range`` ("randomly scaled"); ``n_per_class`` samples each (seed: 3 × 400 in 10-D).
    Means, scale law and ranges are our choice ([UNCONFIRMED] in research B.6).

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
    """Targets ``Y = T X (+ noise)`` of a random linear teacher (seed 003, Sec. 4: "3-dimensional
    targets = sample × randomly initialised matrix").

    ``T`` has i.i.d. N(0, scale²) entries, default ``scale = 1/√p`` (p = rows of X) so that
    targets have the inputs' per-coordinate scale ([UNCONFIRMED] law); ``noise`` adds i.i.d.
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
    et al.'s analysis assumes Σ_xx = I (research B.4). Returns ``(Xw, M, m)``. Raises
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


def load_digits_data(rng=None, *, test_fraction: float = 0.25, standardise: str = "feature",
                     n_samples: Optional[int] = None, classes=None) -> Dataset:
    """scikit-learn's bundled digits (``sklearn.datasets.load_digits``, no download) as a
    ``Dataset`` in the papers' layout (X ``(64, n)``, columns are images).

    rng : ``numpy.random.Generator`` for the random subset and the train/test split; required
        unless ``test_fraction == 0`` and ``n_samples`` is None (then the data keep their order).
    test_fraction : share of samples held out, in [0, 1); the split is a uniform random
        permutation (deterministic given the rng state).
    standardise : fitted on the training part only and applied to both parts —
        "none" (raw pixel values 0..16), "unit" (divide by 16 → [0, 1]), "feature" (per-feature
        z-score; constant features get scale 1 so they stay 0), "global" (one mean and one
        standard deviation over all training pixels).
    n_samples : use a random subset of this many images (before splitting).
    classes : keep only these digit classes; labels are re-indexed 0..k−1 in the given order.
    """
    check_choice(standardise, "standardise", STANDARDISE)
    tf = float(test_fraction)
    if not (0.0 <= tf < 1.0):
        raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    need_rng = tf > 0 or n_samples is not None
    if need_rng or rng is not None:
        rng = check_generator(rng)
    X, y = _raw_digits()
    if classes is not None:
        cls = [int(c) for c in np.atleast_1d(classes)]
        if len(cls) < 2 or len(set(cls)) != len(cls) or any(c < 0 or c > 9 for c in cls):
            raise ValueError(f"classes must be >= 2 distinct digits in 0..9, got {classes!r}")
        keep = np.isin(y, cls)
        X, y = X[:, keep], y[keep]
        remap = {c: i for i, c in enumerate(cls)}
        y = np.array([remap[int(v)] for v in y], dtype=np.intp)
    n_all = X.shape[1]
    order = np.arange(n_all)
    if n_samples is not None:
        n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
        if n_samples > n_all:
            raise ValueError(f"n_samples={n_samples} exceeds the {n_all} available images")
        order = rng.permutation(n_all)[:n_samples]
    elif tf > 0:
        order = rng.permutation(n_all)
    n = order.size
    n_test = int(round(tf * n))
    if tf > 0 and (n_test < 1 or n - n_test < 2):
        raise ValueError(f"test_fraction={tf} leaves an empty test or training set for n = {n}")
    tr, te = order[n_test:], order[:n_test]
    Xtr, ytr = X[:, tr], y[tr]
    mean, scale = _fit_standardise(Xtr, standardise)
    Xtr = (Xtr - mean) / scale
    if n_test:
        Xte, yte = (X[:, te] - mean) / scale, y[te]
    else:
        Xte, yte = None, None
    return Dataset(Xtr, ytr, Xte, yte, mean, scale)


@lru_cache(maxsize=1)
def _raw_digits():
    from sklearn.datasets import load_digits  # bundled with scikit-learn; no network access
    d = load_digits()
    X = np.asarray(d.data, dtype=np.float64).T  # (64, 1797)
    y = np.asarray(d.target, dtype=np.intp)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def one_hot(labels, n_classes: int) -> np.ndarray:
    """One-hot targets ``(n_classes, n)`` (or ``(B, n_classes, n)``) from integer labels."""
    n_classes = check_positive_int(n_classes, "n_classes")
    y = np.asarray(labels)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    return np.moveaxis(np.eye(n_classes)[y], -1, -2)


def _fit_standardise(X, how):
    if how == "none":
        return 0.0, 1.0
    if how == "unit":
        return 0.0, 16.0
    if how == "global":
        s = float(X.std())
        return float(X.mean()), (s if s > 0 else 1.0)
    mean = X.mean(axis=1, keepdims=True)
    sd = X.std(axis=1, keepdims=True)
    return mean, np.where(sd > 0, sd, 1.0)


def _range(r, name):
    try:
        lo, hi = (float(v) for v in r)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi), got {r!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"{name} must satisfy 0 < lo <= hi, got {r!r}")
    return lo, hi
