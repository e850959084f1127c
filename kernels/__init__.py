"""depthcheck.kernels: the simulation engine (samplers, layers by hand, chains, backends).

Imports ``theory`` for definitions, never ``validation``. The main entry points are re-exported
lazily so that ``import depthcheck.kernels`` stays cheap (numba and CuPy are only imported on use)::

    from depthcheck.kernels import forward_backward, simulate_chain
"""
from importlib import import_module

_LAZY = {
    "forward_backward": "depthcheck.kernels.nn.network",
    "forward": "depthcheck.kernels.nn.network",
    "simulate_chain": "depthcheck.kernels.chain.driver",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
