"""The chain engines' exceptions, in one module below every engine (no engine imports another
engine to raise them)."""
from __future__ import annotations

__all__ = ["ChainBreakdownError", "UnsupportedEngineError"]


class ChainBreakdownError(FloatingPointError, ValueError):
    """A chain became numerically degenerate (a NaN/non-finite statistic, an all-zero layer, a
    row with zero norm before the normalisation); the message names the layer and trial.
    Subclasses both ``FloatingPointError`` and ``ValueError`` (``depthcheck.kernels.nn.network``
    reports a degenerate hidden batch as ``ValueError``)."""


class UnsupportedEngineError(ValueError):
    """The requested chain engine (``method``, ``backend``) cannot run this request on this
    machine. The message names what is unsupported and which engine would run it; no engine
    ever substitutes another silently."""
