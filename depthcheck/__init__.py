"""depthcheck: theorems about deep random networks as executable, statistically judged checks.

The import root only: the version, lazy re-exports of the main entry points, and
``python -m depthcheck``. The code lives in three subpackages, arrows pointing down only::

    depthcheck.validation  ->  depthcheck.kernels  ->  depthcheck.theory

In an installed copy setuptools places ``theory/``, ``kernels/`` and ``validation/`` inside this
package (``package_dir`` in ``setup.py``). In a source checkout they are the folders beside this
one (the design card's layout); this module then adds the checkout root to ``__path__`` so that
``depthcheck.kernels`` is the checkout's ``kernels/`` whether or not the project is installed.
Nothing is ever importable as a top-level ``kernels``, ``theory`` or ``validation`` through us.

Examples
--------
>>> import depthcheck
>>> isinstance(depthcheck.__version__, str)
True
"""
from __future__ import annotations

import os as _os
from importlib import import_module as _import_module

__version__ = "0.2.0"

_SUBPACKAGES = ("theory", "kernels", "validation")
_here = _os.path.dirname(_os.path.abspath(__file__))
if not all(_os.path.isdir(_os.path.join(_here, p)) for p in _SUBPACKAGES):
    _root = _os.path.dirname(_here)
    if all(_os.path.isfile(_os.path.join(_root, p, "__init__.py")) for p in _SUBPACKAGES):
        __path__.append(_root)  # type: ignore[name-defined]  # source checkout layout

#: name -> module of the lazily re-exported public entry points
_LAZY = {
    "forward_backward": "depthcheck.kernels.nn.network",
    "forward": "depthcheck.kernels.nn.network",
    "simulate_chain": "depthcheck.kernels.chain.driver",
    "available_backends": "depthcheck.kernels.backends",
    "isometry_gap": "depthcheck.theory.isometry",
    "soft_rank": "depthcheck.theory.rank",
    "weingarten_orthogonal": "depthcheck.theory.weingarten",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(_import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'depthcheck' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
