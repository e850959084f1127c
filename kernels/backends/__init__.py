"""The chain engines: one explicit registry, imported lazily, with no import-time side effects.

A chain engine is chosen on two independent axes (``depthcheck.kernels.simulate_chain``):

============  ==========================================================  =====================
method        backend="numpy"            "numba"                          "cuda" (alias "cupy")
============  ==========================================================  =====================
``"full"``    reference driver           fused CPU kernels, forward and   fused CUDA kernels:
              (every request)            gradients (every request)        Haar weights, n <= d,
                                                                          isometry_gap /
                                                                          rank_lower_bound /
                                                                          row_norm_cv /
                                                                          frobenius_M; a GPU
``"reduced"`` exact in law for n <= d;   fused, n <= d;                    --
              Haar / Gaussian weights;   Haar / Gaussian weights;
              gradients                  gradients
============  ==========================================================  =====================

:data:`ENGINES` maps ``(method, backend)`` to ``"module:Class"``; the module is imported only
when that engine is asked for, so importing this package costs nothing and needs neither numba's
CUDA target nor CuPy nor a GPU. :func:`get_engine` returns an engine instance or raises
:class:`~depthcheck.kernels.chain.errors.UnsupportedEngineError` naming what is unsupported and
what would run it; an engine's ``unsupported(spec, record, gradients)`` says, before anything
runs, why it cannot run a particular request. Nothing here ever falls back to another engine.

The BN residual chains of ``depthcheck.kernels.chain.rank`` (``rank_chain``, ``covariance_chain``
(through ``rank_chain``), ``lyapunov_qr``) choose their engine with the same ``backend`` names:
:data:`RANK_ENGINES` maps ``(function, backend)`` to ``"module:function"``, and
:func:`get_rank_engine` returns the function or raises ``UnsupportedEngineError`` naming it
(backend "numpy" is the reference, in ``depthcheck.kernels.chain.rank`` itself; "numba" the
kernels of ``depthcheck.kernels.backends.numba.rank``; "cuda" has none).

Examples
--------
>>> from depthcheck.kernels.backends import available_backends, get_engine, get_rank_engine
>>> "numpy" in available_backends()
True
>>> get_engine("reduced", "cuda")
Traceback (most recent call last):
...
depthcheck.kernels.chain.errors.UnsupportedEngineError: method='reduced' has no 'cuda' engine; engines for method='reduced': backend='numpy', backend='numba'
>>> get_rank_engine("rank_chain", "cuda")
Traceback (most recent call last):
...
depthcheck.kernels.chain.errors.UnsupportedEngineError: rank_chain has no 'cuda' engine; engines for rank_chain: backend='numpy', backend='numba'
"""
from __future__ import annotations

import importlib

from depthcheck.kernels.chain.errors import UnsupportedEngineError

__all__ = ["METHODS", "BACKENDS", "ALIASES", "ENGINES", "RANK_ENGINES", "get_engine",
           "get_rank_engine", "available_backends", "backend_unavailable_reason", "resolve",
           "UnsupportedEngineError"]

METHODS = ("full", "reduced")
BACKENDS = ("numpy", "numba", "cuda")
#: accepted spellings -> canonical backend name
ALIASES = {"cupy": "cuda"}
#: backend names of earlier releases that also chose the method
LEGACY = {"reduced": ("reduced", "numpy"), "reduced_numba": ("reduced", "numba")}

ENGINES = {
    ("full", "numpy"): "depthcheck.kernels.backends.numpy:NumpyChainBackend",
    ("full", "numba"): "depthcheck.kernels.backends.numba.fused:NumbaChainBackend",
    ("full", "cuda"): "depthcheck.kernels.backends.cuda.chain:CupyChainBackend",
    ("reduced", "numpy"): "depthcheck.kernels.chain.reduced:ReducedChainBackend",
    ("reduced", "numba"): "depthcheck.kernels.backends.numba.reduced:ReducedNumbaChainBackend",
}

#: engines of the BN residual chains of ``depthcheck.kernels.chain.rank`` (the numpy reference is
#: that module itself)
RANK_ENGINES = {
    ("rank_chain", "numpy"): "depthcheck.kernels.chain.rank:rank_chain",
    ("rank_chain", "numba"): "depthcheck.kernels.backends.numba.rank:rank_chain_numba",
    ("lyapunov_qr", "numpy"): "depthcheck.kernels.chain.rank:lyapunov_qr",
    ("lyapunov_qr", "numba"): "depthcheck.kernels.backends.numba.rank:lyapunov_qr_numba",
}


def resolve(method: str, backend: str) -> tuple[str, str]:
    """Canonical ``(method, backend)``; raises ``ValueError`` naming the argument if unknown.

    ``backend="reduced"`` / ``"reduced_numba"`` (earlier releases) mean ``method="reduced"``
    with ``backend="numpy"`` / ``"numba"``; they are refused together with ``method="reduced"``
    spelled out differently (never reinterpreted).
    """
    if not isinstance(backend, str):
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if backend in LEGACY:
        m, b = LEGACY[backend]
        if method != "full" and method != m:
            raise ValueError(f"backend={backend!r} implies method={m!r}, but method={method!r}")
        return m, b
    backend = ALIASES.get(backend, backend)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} (or the aliases "
                         f"{tuple(ALIASES) + tuple(LEGACY)}), got {backend!r}")
    return method, backend


def backend_unavailable_reason(backend: str) -> str | None:
    """Why ``backend`` cannot run on this machine, or None when it can (imports nothing heavy
    for numpy; numba for "numba"; numba.cuda and a GPU probe for "cuda")."""
    _, backend = resolve("full", backend)
    if backend == "numpy":
        return None
    try:
        importlib.import_module("numba")
    except ImportError as exc:  # pragma: no cover - numba is a dependency
        return f"numba is not importable ({exc})"
    if backend == "cuda":
        from depthcheck.kernels.backends.cuda.chain import cuda_available
        if not cuda_available():
            return ("no CUDA GPU is visible to numba.cuda (and the numba CUDA simulator is not "
                    "enabled)")
    return None


def available_backends() -> tuple[str, ...]:
    """The backends that can run on this machine, in :data:`BACKENDS` order."""
    return tuple(b for b in BACKENDS if backend_unavailable_reason(b) is None)


def get_engine(method: str = "full", backend: str = "numpy"):
    """An instance of the engine registered for ``(method, backend)``.

    Raises ``ValueError`` for unknown names and ``UnsupportedEngineError`` when no engine is
    registered for the combination or the backend cannot run here (e.g. no GPU for "cuda").
    """
    method, backend = resolve(method, backend)
    target = ENGINES.get((method, backend))
    if target is None:
        have = ", ".join(f"backend={b!r}" for (m, b) in ENGINES if m == method)
        raise UnsupportedEngineError(f"method={method!r} has no {backend!r} engine; engines "
                                     f"for method={method!r}: {have}")
    why = backend_unavailable_reason(backend)
    if why is not None:
        other = ", ".join(repr(b) for b in available_backends())
        raise UnsupportedEngineError(f"backend={backend!r} cannot run on this machine: {why}; "
                                     f"available backends here: {other}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)()


def get_rank_engine(function: str, backend: str):
    """The ``backend`` engine of ``function`` ("rank_chain" or "lyapunov_qr" of
    ``depthcheck.kernels.chain.rank``), imported on demand.

    Raises ``ValueError`` for an unknown function or backend name (the method-choosing names
    of earlier releases, "reduced" / "reduced_numba", included) and ``UnsupportedEngineError``
    when no engine is registered for the pair or the backend cannot run here.
    """
    fns = sorted({f for f, _ in RANK_ENGINES})
    if function not in fns:
        raise ValueError(f"function must be one of {fns}, got {function!r}")
    if not isinstance(backend, str) or backend in LEGACY:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _, backend = resolve("full", backend)
    target = RANK_ENGINES.get((function, backend))
    if target is None:
        have = ", ".join(f"backend={b!r}" for (f, b) in RANK_ENGINES if f == function)
        raise UnsupportedEngineError(f"{function} has no {backend!r} engine; engines for "
                                     f"{function}: {have}")
    why = backend_unavailable_reason(backend)
    if why is not None:  # pragma: no cover - numba is a dependency
        raise UnsupportedEngineError(f"backend={backend!r} cannot run {function} on this "
                                     f"machine: {why}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
