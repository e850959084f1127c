"""``ChainSpec``: the arguments of ``depthcheck.kernels.simulate_chain``, checked once.

``ChainSpec.from_arguments`` takes ``simulate_chain``'s arguments, raises ``ValueError`` naming
the argument for any bad one and ``UnsupportedEngineError`` when the chosen engine (``method``,
``backend``; see the support table in ``depthcheck.kernels.backends``) cannot run the request,
and returns one immutable object that every chain engine receives: the chain's law (width,
depth, weights, norm, activation, gains, ...) and the request (what to record, gradients,
labels, checkpoints, engine). Nothing downstream re-checks an argument.

Examples
--------
>>> import numpy as np
>>> from depthcheck.kernels.chain.spec import ChainSpec
>>> spec = ChainSpec.from_arguments(np.eye(4, 3), 5, trials=2, rng=np.random.default_rng(0),
...                                 gain_exponent=0.5)
>>> spec.d, spec.n, spec.depth, spec.checkpoint_every, spec.record
(4, 3, 5, 3, ('isometry_gap', 'rank_lower_bound', 'soft_rank', 'row_norm_cv'))
>>> np.round(spec.gains, 3)
array([1.   , 0.707, 0.577, 0.5  , 0.447])
>>> ChainSpec.from_arguments(np.eye(4, 3), 0, trials=2, rng=np.random.default_rng(0))
Traceback (most recent call last):
...
ValueError: depth must be >= 1, got 0
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple, Optional

import numpy as np

from depthcheck.theory._checks import (as_float_array, check_choice, check_generator,
                                       check_positive_int)
from depthcheck.kernels import backends as _engines
from depthcheck.kernels.chain.errors import UnsupportedEngineError
from depthcheck.kernels.chain.statistics import DEFAULT_RECORD, STATISTICS
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.nn.layer import ORDERS

__all__ = ["ChainSpec", "WEIGHTS", "ORDERS", "HOMOGENEOUS_ACTIVATIONS"]

WEIGHTS = ("haar", "gaussian", "uniform")
#: act(c x) = c act(x) for c > 0: a norm-free chain can then be rescaled without changing it.
HOMOGENEOUS_ACTIVATIONS = ("identity", "relu", "leaky_relu")


class ChainSpec(NamedTuple):
    """Validated description of one ``simulate_chain`` request (build it with
    :meth:`from_arguments`). The first fields are the chain's law, read by every engine; the
    others are the request."""
    trials: int
    d: int
    n: int
    depth: int
    weights: str
    weight_std: float          # 1.0 for haar (unused)
    norm: str
    activation: str
    order: str
    gains: np.ndarray          # (depth,), g_l at index l-1
    residual: Optional[float]
    matrix_free: bool          # haar only: apply W_l to H without forming it (numpy engine)
    rescale: bool              # divide H by its Frobenius norm after every layer (norm="none")
    n_out: int
    # ---- the request --------------------------------------------------------------------
    record: tuple = DEFAULT_RECORD
    record_every: int = 1
    tau: float = 0.5
    n_singular: int = 10
    gradients: bool = False
    labels: Optional[np.ndarray] = None   # (n,) intp, or None: drawn from rng by the driver
    checkpoint_every: int = 1             # k_c: checkpoint spacing of the backward pass
    method: str = "full"
    backend: str = "numpy"
    progress: bool = False
    X: Optional[np.ndarray] = None        # the validated float64 input, (d, n) or (trials, d, n)

    @classmethod
    def from_arguments(cls, X, depth, *, trials, rng, weights="haar", norm="rownorm",
                       activation="identity", order="norm_act", gains=None, gain_exponent=None,
                       residual=None, weight_std=None, record_every=1, record=DEFAULT_RECORD,
                       tau=0.5, gradients=False, labels=None, n_out=10, checkpoint_every=None,
                       method="full", backend="numpy", n_singular=10,
                       progress=False) -> "ChainSpec":
        """Check every argument of ``depthcheck.kernels.simulate_chain`` (same names and
        meanings) and return the spec.

        ``rng`` is only checked to be a ``numpy.random.Generator``, never consumed. Raises
        ``ValueError`` naming the argument, and ``UnsupportedEngineError`` (a ``ValueError``)
        when (``method``, ``backend``) has no engine, cannot run on this machine, or cannot
        run this request.
        """
        depth = check_positive_int(depth, "depth")
        trials = check_positive_int(trials, "trials")
        check_generator(rng, "rng")
        check_choice(weights, "weights", WEIGHTS)
        check_choice(norm, "norm", _norms.NORMS)
        check_choice(activation, "activation", _act.ACTIVATIONS)
        check_choice(order, "order", ORDERS)
        method, backend = _engines.resolve(method, backend)
        record_every = check_positive_int(record_every, "record_every")
        n_singular = check_positive_int(n_singular, "n_singular")
        if not isinstance(gradients, (bool, np.bool_)):
            raise ValueError(f"gradients must be True or False, got {gradients!r}")
        if not isinstance(progress, (bool, np.bool_)):
            raise ValueError(f"progress must be True or False, got {progress!r}")

        X = as_float_array(X, "X", ndim=(2, 3), dtype=np.float64)
        if X.ndim == 3 and X.shape[0] != trials:
            raise ValueError(f"X is batched with {X.shape[0]} trials but trials={trials}; pass "
                             f"X of shape (d, n) or (trials, d, n)")
        d, n = X.shape[-2], X.shape[-1]

        if weight_std is not None:
            if weights == "haar":
                raise ValueError("weight_std applies to gaussian/uniform weights only; Haar "
                                 "weights are orthogonal (pass weight_std=None)")
            if not _is_real(weight_std) or not np.isfinite(weight_std) or weight_std <= 0:
                raise ValueError(f"weight_std must be a finite positive number, got "
                                 f"{weight_std!r}")
            std = float(weight_std)
        else:
            std = 1.0 if weights == "haar" else 1.0 / math.sqrt(d)

        if gains is not None and gain_exponent is not None:
            raise ValueError("give at most one of gains and gain_exponent, not both")
        if gains is not None:
            g = as_float_array(gains, "gains", ndim=1, dtype=np.float64)
            if g.shape[0] != depth:
                raise ValueError(f"gains must hold one gain per layer ({depth}), got "
                                 f"{g.shape[0]}")
        elif gain_exponent is not None:
            if not _is_real(gain_exponent) or not np.isfinite(gain_exponent):
                raise ValueError(f"gain_exponent must be a finite real number, got "
                                 f"{gain_exponent!r}")
            g = np.arange(1, depth + 1, dtype=np.float64) ** (-float(gain_exponent))
        else:
            g = np.ones(depth)

        if residual is not None:
            if not _is_real(residual) or not np.isfinite(residual) or residual == 0:
                raise ValueError(f"residual must be None or a finite nonzero real γ, got "
                                 f"{residual!r}")
            residual = float(residual)

        if isinstance(record, str):
            record = (record,)
        try:
            record = tuple(dict.fromkeys(record))
        except TypeError as exc:
            raise ValueError(f"record must be a sequence of statistic names, got "
                             f"{record!r}") from exc
        for name in record:
            if name not in STATISTICS:
                raise ValueError(f"record: unknown statistic {name!r}; choose from "
                                 f"{STATISTICS}")

        if not _is_real(tau) or not (0.0 <= tau < 1.0):
            raise ValueError(f"tau must be a real number in [0, 1), got {tau!r}")
        tau = float(tau)

        n_out = check_positive_int(n_out, "n_out")
        if gradients and n_out > d:
            raise ValueError(f"n_out={n_out} exceeds the width d={d}: the readout needs "
                             f"orthonormal rows (n_out <= d)")
        if labels is not None:
            y = np.asarray(labels)
            if y.shape != (n,):
                raise ValueError(f"labels must have shape (n,) = ({n},), got {y.shape}")
            if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"labels must be integers, got dtype {y.dtype}")
            if np.any(y < 0) or np.any(y >= n_out):
                raise ValueError(f"labels must lie in [0, n_out) = [0, {n_out}), got min "
                                 f"{y.min()}, max {y.max()}")
            labels = y.astype(np.intp)

        if checkpoint_every is None:
            k_c = max(1, math.ceil(math.sqrt(depth)))
        else:
            k_c = check_positive_int(checkpoint_every, "checkpoint_every")

        spec = cls(trials=trials, d=d, n=n, depth=depth, weights=weights, weight_std=std,
                   norm=norm, activation=activation, order=order, gains=g, residual=residual,
                   matrix_free=(weights == "haar" and not gradients and d >= 64
                                and 4 * n <= d),
                   rescale=(norm == "none" and activation in HOMOGENEOUS_ACTIVATIONS),
                   n_out=n_out, record=record, record_every=record_every, tau=tau,
                   n_singular=n_singular, gradients=bool(gradients), labels=labels,
                   checkpoint_every=k_c, method=method, backend=backend,
                   progress=bool(progress), X=X)
        spec.engine()
        return spec

    def engine(self):
        """The engine registered for (``method``, ``backend``) in
        ``depthcheck.kernels.backends``, after asking it whether it can run this request.

        Raises ``UnsupportedEngineError`` naming what is unsupported (never a fallback).
        """
        engine = _engines.get_engine(self.method, self.backend)
        why = engine.unsupported(self, self.record, self.gradients)
        if why is not None:
            raise UnsupportedEngineError(f"method={self.method!r}, backend={self.backend!r} "
                                         f"cannot run this request: {why}")
        return engine


def _is_real(v) -> bool:
    return (isinstance(v, numbers.Real) and not isinstance(v, bool)) or (
        isinstance(v, np.ndarray) and v.ndim == 0 and np.issubdtype(v.dtype, np.floating))


def engine_arguments(chain_args: dict, method: str, backend: str) -> dict:
    """``chain_args`` (keyword arguments of ``simulate_chain``) with the engine fixed by an
    engine-specific entry point such as ``simulate_chain_numba``; passing ``method`` or
    ``backend`` there as well is refused rather than silently overridden."""
    for name in ("method", "backend"):
        if name in chain_args:
            raise ValueError(f"{name}: this entry point runs method={method!r}, "
                             f"backend={backend!r}; use depthcheck.kernels.simulate_chain to "
                             f"choose another engine")
    return dict(chain_args, method=method, backend=backend)
