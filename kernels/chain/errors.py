"""The chain engines' exceptions, in one module below every engine (no engine imports another
engine to raise them)."""
from __future__ import annotations

import numpy as np

__all__ = ["ChainBreakdownError", "UnsupportedEngineError", "check_log_grad"]


class ChainBreakdownError(FloatingPointError, ValueError):
    """A chain became numerically degenerate (a NaN/non-finite statistic, an all-zero layer, a
    row with zero norm before the normalisation); the message names the layer and trial.
    Subclasses both ``FloatingPointError`` and ``ValueError`` (``depthcheck.kernels.nn.network``
    reports a degenerate hidden batch as ``ValueError``)."""


class UnsupportedEngineError(ValueError):
    """The requested chain engine (``method``, ``backend``) cannot run this request on this
    machine. The message names what is unsupported and which engine would run it; no engine
    ever substitutes another silently."""


def check_log_grad(log_grad: np.ndarray, grad_layers) -> None:
    """Raise ``ChainBreakdownError`` naming the first (trial, layer) whose log gradient norm is
    NaN or +inf (an exactly zero gradient, -inf, is allowed); shared by every chain engine."""
    bad = np.isnan(log_grad) | (log_grad == np.inf)
    if np.any(bad):
        b, j = (int(i) for i in np.argwhere(bad)[0])
        raise ChainBreakdownError(f"layer {grad_layers[j]}, trial {b}: log gradient norm is "
                                  f"{log_grad[b, j]!r}")
