"""The integer codes, error codes and constants shared by the compiled chain engines (numba CPU
and CUDA), defined once.

Compiled kernels cannot take strings, so a ``ChainSpec`` (``depthcheck.kernels.backends.numpy``)
reaches them as codes; the kernels report a degenerate trial as an error code, turned back into
a ``ChainBreakdownError`` message by :data:`ERR_TEXT`. :func:`kernel_scalars` packs every scalar
a kernel needs into one ``int64`` and one ``float64`` array (slots ``I_*`` / ``F_*``), so the
kernels take a handful of arrays instead of dozens of positional scalars. The numeric constants
come from the numpy reference (``depthcheck.kernels.nn.activations``, ``depthcheck.kernels.nn.norms``,
``depthcheck.theory.isometry``), never the other way round.

Examples
--------
>>> from depthcheck.kernels.chain.codes import NORM_CODES, ERR_TEXT, ERR_BN_VARIANCE
>>> NORM_CODES["rownorm"]
3
>>> ERR_TEXT[ERR_BN_VARIANCE]
'a row has zero variance over the batch before bn'
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.chain.errors import ChainBreakdownError
from depthcheck.kernels.nn.activations import ACTIVATIONS, LEAKY_SLOPE as _LEAKY_SLOPE
from depthcheck.kernels.nn.norms import NORMS, _BN_ULPS
from depthcheck.theory.isometry import _PIVOT_TOL_ULPS

__all__ = ["NORM_CODES", "ACT_CODES", "WEIGHT_CODES", "ORDER_CODES", "FUSED_STATISTICS",
           "STAT_SLOT", "N_FLAGS", "FLAG_TOP", "FLAG_LOG_SCALE", "ERR_NONE", "ERR_NORM_ZERO",
           "ERR_BN_VARIANCE", "ERR_NONFINITE", "ERR_RESCALE", "ERR_STAT", "ERR_BACKWARD",
           "ERR_TEXT", "LEAKY_SLOPE", "BN_ULPS", "EPS", "PIVOT_TOL_ULPS", "LOG_SCALE_CAP",
           "WY_BLOCK", "record_flags", "kernel_scalars", "raise_breakdown"]

NORM_CODES = {name: i for i, name in enumerate(NORMS)}          # none, bn, bn_nomean, rownorm
ACT_CODES = {name: i for i, name in enumerate(ACTIVATIONS)}     # identity, relu, leaky_relu,
#                                                                 tanh, sin, sigmoid
WEIGHT_CODES = {"haar": 0, "gaussian": 1, "uniform": 2}
ORDER_CODES = {"norm_act": 0, "act_norm": 1}

#: statistics of ``depthcheck.kernels.chain.statistics`` in the kernels' slot order: the first
#: five are scalars (row ``STAT_SLOT[name]`` of the kernels' ``(B, 5, R)`` output)
FUSED_STATISTICS = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv",
                    "frobenius_M", "top_singular_values")
STAT_SLOT = {name: i for i, name in enumerate(FUSED_STATISTICS[:5])}
#: record flags: one per scalar statistic (STAT_SLOT), then top singular values, then log_scale
FLAG_TOP, FLAG_LOG_SCALE, N_FLAGS = 5, 6, 7

# error codes reported per trial as (layer, code)
ERR_NONE, ERR_NORM_ZERO, ERR_BN_VARIANCE, ERR_NONFINITE, ERR_RESCALE, ERR_STAT = 0, 1, 2, 3, 4, 5
ERR_BACKWARD = 6
ERR_TEXT = {
    ERR_NORM_ZERO: "a row has zero (or non-finite) norm before the normalisation",
    ERR_BN_VARIANCE: "a row has zero variance over the batch before bn",
    ERR_NONFINITE: "the hidden representation is not finite",
    ERR_RESCALE: "the hidden representation has zero or non-finite Frobenius norm",
    ERR_STAT: "a statistic is undefined (all-zero hidden representation)",
    ERR_BACKWARD: "the backward signal is not finite",
}

#: negative slope of leaky_relu (``depthcheck.kernels.nn.activations.LEAKY_SLOPE``)
LEAKY_SLOPE = float(_LEAKY_SLOPE)
#: bn refuses a row whose std is <= BN_ULPS·eps·max|z| (``depthcheck.kernels.nn.norms``)
BN_ULPS = float(_BN_ULPS)
EPS = float(np.finfo(np.float64).eps)
#: a Cholesky pivot L_kk² must exceed PIVOT_TOL_ULPS·n·eps·G_kk (``depthcheck.theory.isometry``)
PIVOT_TOL_ULPS = float(_PIVOT_TOL_ULPS)
#: exp(700) < max float64 / e^10: the readout's logits are scaled by at most e^700
#: (``depthcheck.kernels.chain.driver._Chain._readout_grad``)
LOG_SCALE_CAP = 700.0
#: reflections per compact-WY block of the numba kernels (measured best at d = 50..100)
WY_BLOCK = 16

# ---- packed kernel scalars: int64 slots ...
(I_DEPTH, I_K0, I_K1, I_METHOD, I_WEIGHT, I_NORM, I_ACT, I_ORDER, I_RESIDUAL, I_RESCALE,
 I_RECORD_EVERY, I_N_SING, I_BLOCK, I_KC, I_FLAGS) = range(15)
N_INTS = I_FLAGS + N_FLAGS
# ... and float64 slots
F_STD, F_GAMMA, F_LOG_GAMMA, F_TAU = range(4)
N_FLOATS = 4


def record_flags(norm: str, record) -> np.ndarray:
    """The kernels' ``N_FLAGS`` record flags for the statistic names ``record`` (a subset of
    ``FUSED_STATISTICS``) and ``norm`` (log_scale is recorded for ``norm="none"``)."""
    flags = np.zeros(N_FLAGS, dtype=np.bool_)
    for name in record:
        flags[FLAG_TOP if name == "top_singular_values" else STAT_SLOT[name]] = True
    flags[FLAG_LOG_SCALE] = norm == "none"
    return flags


def kernel_scalars(spec, key, *, method: int, flags, record_every: int, tau: float = 0.5,
                   n_sing: int = 1, block: int = WY_BLOCK, kc: int = 0):
    """``(ints, floats)``: every scalar of a chain kernel, packed in the ``I_*`` / ``F_*`` slots.

    ``spec``: a validated ``ChainSpec``; ``key``: the Philox key (two 32-bit words);
    ``method``: the normal transform's code (``depthcheck.kernels.random.philox.METHODS``);
    ``flags``: :func:`record_flags`; ``kc``: checkpoint interval (0: no checkpoints).
    """
    ints = np.zeros(N_INTS, dtype=np.int64)
    ints[I_DEPTH] = spec.depth
    ints[I_K0], ints[I_K1] = int(key[0]), int(key[1])
    ints[I_METHOD] = method
    ints[I_WEIGHT] = WEIGHT_CODES[spec.weights]
    ints[I_NORM] = NORM_CODES[spec.norm]
    ints[I_ACT] = ACT_CODES[spec.activation]
    ints[I_ORDER] = ORDER_CODES[spec.order]
    ints[I_RESIDUAL] = spec.residual is not None
    ints[I_RESCALE] = bool(spec.rescale)
    ints[I_RECORD_EVERY] = record_every
    ints[I_N_SING] = n_sing
    ints[I_BLOCK] = block
    ints[I_KC] = kc
    ints[I_FLAGS:I_FLAGS + N_FLAGS] = np.asarray(flags, dtype=np.bool_)
    floats = np.zeros(N_FLOATS)
    floats[F_STD] = spec.weight_std
    if spec.residual is not None:
        floats[F_GAMMA] = spec.residual
        floats[F_LOG_GAMMA] = math.log(abs(spec.residual))
    floats[F_TAU] = tau
    return ints, floats


def raise_breakdown(err, backward_codes=()):
    """Raise ``ChainBreakdownError`` for the kernels' per-trial ``err`` (B, 2) = (layer, code), as
    the numpy driver meets them: a forward breakdown first (lowest layer), then a code in
    ``backward_codes`` (the backward pass runs down: highest layer). Returns if none."""
    back = np.isin(err[:, 1], backward_codes)
    fwd = np.flatnonzero((err[:, 1] != ERR_NONE) & ~back)
    bwd = np.flatnonzero(back)
    for bad, pick in ((fwd, np.argmin), (bwd, np.argmax)):
        if bad.size:
            b = int(bad[pick(err[bad, 0])])
            raise ChainBreakdownError(f"layer {int(err[b, 0])}, trial {b}: "
                                      f"{ERR_TEXT[int(err[b, 1])]}; the chain is degenerate")
