"""Real images that ship with scikit-learn (never a download), in the papers' layout.

:func:`load_digits_data`: scikit-learn's bundled 8×8 digits (1797 images, 64 features, 10
classes) as a labelled ``Dataset`` with standardisation options and a deterministic
train/test split drawn from an explicit ``rng``; the offline stand-in for the MNIST/CIFAR
training experiments of Kutsuna [2]_ Sec. 6.1 (deep sigmoid MLPs) and Basu et al. [3]_ (ReLU
nets).

:func:`image_batch`: one fixed batch of real images. The gradient figures of Meterez et al.
[1]_ (Figs. 2, 3, 5) feed one fixed CIFAR-10 batch of n = 100 images (3072 = 32·32·3 features,
per-channel ``Normalize``) through the network. We have no CIFAR here, so the stand-ins are:

* ``source="photos"``: random 32×32 RGB crops of the two 427×640 photographs bundled with
  scikit-learn (``sklearn.datasets.load_sample_images``: "china.jpg", "flower.jpg"), flattened
  channel-first like ``torchvision.transforms.ToTensor`` (feature index = c·1024 + 32·row + col)
  to 3072 features and standardised per channel with the mean and standard deviation of that
  channel over both photographs (the analogue of CIFAR's ``Normalize(mean, std)``).
* ``source="digits"``: scikit-learn's bundled 8×8 handwritten digits (1797 images, 64 features),
  standardised with the global pixel mean and standard deviation (one channel).

Batches are columns: ``(features, n)``. ``repeat = r`` makes a *degenerate* batch ([1]_
Fig. 2): n/r distinct images, each appearing r times (the block of distinct columns tiled r
times), so the batch has rank <= n/r and isometry gap φ = ∞. Distinct images are drawn without
replacement (distinct crop positions / distinct digit images), so ``repeat=1`` never duplicates
a column by chance.

References
----------
.. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012.
.. [2] Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster Training
   of Neural Networks", arXiv:2403.13833.
.. [3] Basu, Mukherjee, Vasudevan, "Layer Dynamics of Linearised Neural Nets",
   arXiv:1904.10689.

Examples
--------
>>> import numpy as np
>>> from depthcheck.kernels.data import image_batch, load_digits_data
>>> image_batch(6, np.random.default_rng(0), source="digits", repeat=2).shape
(64, 6)
>>> ds = load_digits_data(np.random.default_rng(0), n_samples=200, classes=[0, 1])
>>> ds.X_train.shape, ds.X_test.shape, sorted(set(ds.y_train.tolist()))
((64, 150), (64, 50), [0, 1])
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np

from depthcheck.theory._checks import check_choice, check_generator, check_positive_int
from depthcheck.kernels.data.synthetic import Dataset

__all__ = ["SOURCES", "CROP", "STANDARDISE", "image_batch", "n_features", "load_digits_data"]

STANDARDISE = ("none", "unit", "feature", "global")

SOURCES = ("photos", "digits")
#: side of the square crops of the photographs (CIFAR-10's 32×32)
CROP = 32


@lru_cache(maxsize=None)
def _photos() -> np.ndarray:
    """Both photographs, channel-first and standardised per channel: ``(2, 3, 427, 640)``,
    read-only (shared by every call)."""
    from sklearn.datasets import load_sample_images
    imgs = np.stack([np.asarray(im, dtype=np.float64) for im in load_sample_images().images])
    imgs = np.moveaxis(imgs, -1, 1) / 255.0                       # (2, 3, H, W), like ToTensor
    mean = imgs.mean(axis=(0, 2, 3), keepdims=True)
    std = imgs.std(axis=(0, 2, 3), keepdims=True)
    out = (imgs - mean) / std
    out.setflags(write=False)
    return out


@lru_cache(maxsize=None)
def _digits() -> np.ndarray:
    """The 1797 digits as ``(1797, 64)``, globally standardised, read-only."""
    from sklearn.datasets import load_digits
    x = np.asarray(load_digits().data, dtype=np.float64)
    out = (x - x.mean()) / x.std()
    out.setflags(write=False)
    return out


def n_features(source: str) -> int:
    """Feature dimension of a batch from ``source``: 3072 (photos) or 64 (digits)."""
    check_choice(source, "source", SOURCES)
    return 3 * CROP * CROP if source == "photos" else 64


def image_batch(n: int, rng: np.random.Generator, source: str = "photos", repeat: int = 1
                ) -> np.ndarray:
    """A batch of n real images as columns, shape ``(n_features(source), n)``, float64.

    ``n // repeat`` distinct images are drawn from ``rng`` (crop positions or digit indices
    without replacement) and the block is tiled ``repeat`` times (``repeat`` must divide n).
    Deterministic given the state of ``rng``; the loaded images are cached read-only.
    Raises ``ValueError`` naming ``n``/``repeat``/``source``/``rng`` for bad input.
    """
    rng = check_generator(rng)
    n = check_positive_int(n, "n")
    repeat = check_positive_int(repeat, "repeat")
    check_choice(source, "source", SOURCES)
    if n % repeat:
        raise ValueError(f"repeat={repeat} must divide n={n} (n/repeat distinct images, each "
                         f"repeated)")
    m = n // repeat
    if source == "photos":
        imgs = _photos()
        n_img, _, h, w = imgs.shape
        ph, pw = h - CROP + 1, w - CROP + 1
        total = n_img * ph * pw
        flat = rng.choice(total, size=m, replace=False)
        k, rest = np.divmod(flat, ph * pw)
        r, c = np.divmod(rest, pw)
        cols = [imgs[k[j], :, r[j]:r[j] + CROP, c[j]:c[j] + CROP].reshape(-1) for j in range(m)]
        block = np.stack(cols, axis=1)
    else:
        x = _digits()
        if m > x.shape[0]:
            raise ValueError(f"n/repeat={m} exceeds the {x.shape[0]} distinct digit images")
        block = x[rng.choice(x.shape[0], size=m, replace=False)].T
    return np.ascontiguousarray(np.tile(block, (1, repeat)))


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
