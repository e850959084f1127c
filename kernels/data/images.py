"""Real image batches that ship with scikit-learn (never a download), in the papers' layout.

Seed 001's gradient figures (Figs. 2, 3, 5, G6; research ``bn_orthogonal.md`` §7) feed one fixed
CIFAR-10 batch of n = 100 images (3072 = 32·32·3 features, per-channel ``Normalize``) through the
network. We have no CIFAR here, so the stand-ins are:

* ``source="photos"``: random 32×32 RGB crops of the two 427×640 photographs bundled with
  scikit-learn (``sklearn.datasets.load_sample_images``: "china.jpg", "flower.jpg"), flattened
  channel-first like ``torchvision.transforms.ToTensor`` (feature index = c·1024 + 32·row + col)
  to 3072 features and standardised per channel with the mean and standard deviation of that
  channel over both photographs (the analogue of CIFAR's ``Normalize(mean, std)``).
* ``source="digits"``: scikit-learn's bundled 8×8 handwritten digits (1797 images, 64 features),
  standardised with the global pixel mean and standard deviation (one channel).

Batches are columns: ``(features, n)``. ``repeat = r`` makes a *degenerate* batch (seed 001
Fig. 2): n/r distinct images, each appearing r times (the block of distinct columns tiled r
times), so the batch has rank <= n/r and isometry gap φ = ∞. Distinct images are drawn without
replacement (distinct crop positions / distinct digit images), so ``repeat=1`` never duplicates
a column by chance.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from depthcheck.theory._checks import check_choice, check_generator, check_positive_int

__all__ = ["SOURCES", "CROP", "image_batch", "n_features"]

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
