"""Registers the optional chain backends in ``kernels.chain._BACKENDS`` (import for effect).

    "numba"    kernels.numba_chain.NumbaChainBackend   fused CPU kernels (forward:
                                                        numba_chain; gradients: numba_chain_grad)
                                                        + per-layer compact-WY Haar methods
    "cupy"     kernels.cuda_chain.CupyChainBackend     fused CUDA kernels (numba.cuda; CuPy
                                                        arrays when CuPy is present), forward and
                                                        gradients, Haar weights
    "reduced"  kernels.reduced.ReducedChainBackend     the exact-in-law O(d n²) chain for n <= d
    "reduced_numba"  kernels.reduced_numba.ReducedNumbaChainBackend   its forward pass as a
                                                        fused numba kernel (gradients: numpy)

Each entry is a zero-argument factory (what the driver calls as ``_BACKENDS[name]()``) that
imports its module on first use, so registering costs nothing and needs neither numba.cuda
nor CuPy nor a GPU. ``kernels.chain`` imports this module lazily, before it validates the
``backend`` argument.

Driver protocol: besides the per-layer methods of ``kernels.chain_step.NumpyChainBackend``, a
backend may offer ``fused(spec, record, gradients) -> bool`` and
``run_fused(spec, X, root, *, record, record_every, tau, n_singular, gradients, labels,
checkpoint_every) -> dict``; when ``fused`` is true the driver hands the whole chain over
(after drawing ``root`` and the labels from ``rng`` exactly as for numpy).
"""
from __future__ import annotations

import importlib

from kernels import chain as _chain

__all__ = ["OPTIONAL_BACKENDS", "register"]

OPTIONAL_BACKENDS = {
    "numba": ("kernels.numba_chain", "NumbaChainBackend"),
    "cupy": ("kernels.cuda_chain", "CupyChainBackend"),
    "reduced": ("kernels.reduced", "ReducedChainBackend"),
    "reduced_numba": ("kernels.reduced_numba", "ReducedNumbaChainBackend"),
}


class _LazyBackend:
    """Factory for ``_BACKENDS``: imports ``module`` on the first call, returns an instance."""

    def __init__(self, name: str, module: str, attr: str):
        self.name, self.module, self.attr = name, module, attr

    def __call__(self):
        cls = getattr(importlib.import_module(self.module), self.attr)
        return cls()

    def __repr__(self):
        return f"<lazy backend {self.name!r}: {self.module}.{self.attr}>"


def register(backends=None) -> dict:
    """Add the optional backends (default: all of ``OPTIONAL_BACKENDS``) to
    ``kernels.chain._BACKENDS`` without replacing existing entries; returns the registry."""
    for name, (module, attr) in (backends or OPTIONAL_BACKENDS).items():
        _chain._BACKENDS.setdefault(name, _LazyBackend(name, module, attr))
    return _chain._BACKENDS


register()
