"""Input validation shared by every public function.

Bad input must raise a ``ValueError`` that names the offending argument, never return a
silent NaN. Every check here returns the validated array so callers can
write ``H = as_float_array(H, "H", min_ndim=2)``.
"""
from __future__ import annotations

import numbers
from typing import Iterable

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "check_choice",
    "check_positive_int",
    "check_generator",
]


def check_finite(a: np.ndarray, name: str) -> np.ndarray:
    """Raise ``ValueError`` naming ``name`` if ``a`` holds NaN or inf."""
    if not np.all(np.isfinite(a)):
        bad = "NaN" if np.any(np.isnan(a)) else "inf"
        raise ValueError(f"{name} contains {bad} values; expected finite numbers")
    return a


def as_float_array(a, name: str, *, min_ndim: int = 0, ndim: int | Iterable[int] | None = None,
                   dtype=None, finite: bool = True, allow_complex: bool = False) -> np.ndarray:
    """Convert ``a`` to a floating array and validate its dimension and finiteness.

    Integer and boolean input is promoted to float64; float32/float64 (and complex when
    ``allow_complex``) are kept unless ``dtype`` is given.
    """
    try:
        arr = np.asarray(a)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds here
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object:
        raise ValueError(f"{name} must be a numeric array, got dtype=object")
    if np.iscomplexobj(arr) and not allow_complex:
        raise ValueError(f"{name} must be real, got complex dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif not np.issubdtype(arr.dtype, np.inexact):
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must have ndim in {allowed}, got shape {arr.shape}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if finite:
        check_finite(arr, name)
    return arr


def check_choice(value, name: str, choices: Iterable) -> object:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {choices}")
    return value


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising ``ValueError`` if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_generator(rng, name: str = "rng") -> np.random.Generator:
    """Require an explicit ``numpy.random.Generator`` (no global state, no hidden seeding)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), "
                         f"got {type(rng).__name__}")
    return rng
