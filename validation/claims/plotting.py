"""Shared figure helpers of the claims' ``figure`` callbacks.

Matplotlib is imported on first use only, here and nowhere else: listing or running claims without
figures (``--no-figures``, every worker process) never pays its import, and the non-interactive
Agg backend is selected before pyplot is loaded, so figures draw on machines without a display.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> plt = pyplot()
>>> fig, ax = plt.subplots()
>>> _ = ax.plot(np.arange(3))
>>> path = save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "line.png")
>>> path.is_file()
True
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["pyplot", "save_figure"]


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend selected (imported on first call)."""
    import matplotlib  # deliberately lazy: see the module docstring
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi: int = 100, tight: bool = True) -> Path:
    """Lay out (``tight``), write ``fig`` to ``path`` at ``dpi``, close it and return the path."""
    path = Path(path)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
