"""Shared figure helpers of the claims' ``figure`` callbacks.

Matplotlib is imported on first use only, here and nowhere else: listing or running claims without
figures (``--no-figures``, every worker process) never pays its import, and the non-interactive
Agg backend is selected before pyplot is loaded, so figures draw on machines without a display.

Every figure of the report follows the same conventions, enforced here:

* it is written twice by :func:`save_figure`: a vector PDF (for papers) and a 300-dpi PNG (for
  ``report.md``), with one file stem, named by claim id;
* intervals have one level, the run's ``1 - alpha`` (pointwise; :func:`mean_band`), and the
  figure says so (:func:`level_label`);
* legends are placed where they do not hide data (:func:`legend`: ``loc="best"`` for a few
  entries, outside the axes for many) and list only artists that are drawn: a legend entry
  whose artist has no finite data is refused unless it stands for a drawn artist of the same
  style (a "proxy").

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> plt = pyplot()
>>> fig, ax = plt.subplots()
>>> _ = ax.plot(np.arange(3), label=r"$\\phi(X_l)$")
>>> legend(ax)
>>> png = save_figure(fig, pathlib.Path(tempfile.mkdtemp()), "toy.line")
>>> png.name, png.with_suffix(".pdf").is_file()
('toy.line.png', True)
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from pathlib import Path

import numpy as np

from depthcheck.validation.claims.stats import t_quantile

__all__ = ["PNG_DPI", "png_dpi", "pyplot", "save_figure", "vector_twin", "mean_band",
           "level_label", "legend", "check_legends"]

#: Resolution of the raster copy of every figure (default of :func:`png_dpi`).
PNG_DPI = 300
#: The resolution save_figure uses when none is given: set for one report by :func:`png_dpi`
#: (a context variable, so concurrent reports do not see each other's setting).
_DPI = contextvars.ContextVar("depthcheck_png_dpi", default=PNG_DPI)


@contextlib.contextmanager
def png_dpi(dpi: int):
    """Within the ``with`` block, :func:`save_figure` writes its PNG at ``dpi`` (>= 72) unless
    called with its own ``dpi``; the vector PDF is unchanged. ``run --dpi`` uses it to keep a
    committed report small.

    >>> with png_dpi(100):
    ...     _DPI.get()
    100
    """
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi < 72:
        raise ValueError(f"dpi must be an int >= 72, got {dpi!r}")
    token = _DPI.set(dpi)
    try:
        yield dpi
    finally:
        _DPI.reset(token)
#: Legends with more entries than this go outside the axes (right), so they never hide data.
MAX_INSIDE_ENTRIES = 3


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend selected (imported on first call)."""
    import matplotlib  # deliberately lazy: see the module docstring
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def vector_twin(png) -> Path:
    """The vector (PDF) copy :func:`save_figure` writes beside the raster ``png``."""
    return Path(png).with_suffix(".pdf")


def save_figure(fig, outdir, stem: str, dpi: int | None = None) -> Path:
    """Check the legends of ``fig`` (:func:`check_legends`), write it as ``outdir/stem.pdf``
    (vector) and ``outdir/stem.png`` (``dpi``; default 300, or the :func:`png_dpi` in
    effect), close it and return the PNG path
    (the PDF is :func:`vector_twin` of it).

    ``stem`` is the claim id, optionally followed by ``.figure-name`` when a claim draws several
    figures; it must not contain a path separator.
    """
    if not isinstance(stem, str) or not stem or "/" in stem or "\\" in stem:
        raise ValueError(f"stem must be a non-empty file stem without separators, got {stem!r}")
    if dpi is None:
        dpi = _DPI.get()
    if int(dpi) < 72:
        raise ValueError(f"dpi must be >= 72, got {dpi!r}")
    outdir = Path(outdir)
    check_legends(fig)
    png = outdir / f"{stem}.png"
    try:
        fig.tight_layout()
        # bbox_inches="tight" keeps legends placed outside the axes inside the file
        fig.savefig(vector_twin(png), bbox_inches="tight")
        fig.savefig(png, dpi=int(dpi), bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return png


def mean_band(Y, alpha: float, axis: int = 0):
    """Mean of ``Y`` over ``axis`` (the trials) and the half-width of its pointwise two-sided
    Student-t interval at level ``1 - alpha``; non-finite trials make that point NaN (not drawn),
    never silently dropped."""
    Y = np.asarray(Y, dtype=float)
    n = Y.shape[axis]
    m = Y.mean(axis=axis)
    if n < 2:
        return m, np.full_like(m, np.nan)
    h = t_quantile(alpha, n - 1) * Y.std(axis=axis, ddof=1) / math.sqrt(n)
    return m, h


def level_label(alpha: float, what: str = "pointwise intervals") -> str:
    """The sentence every figure carries about its intervals, e.g. ``"pointwise intervals at
    1 − α = 1 − 1e-05"``."""
    return f"{what} at 1 − α = 1 − {float(alpha):g}"


def legend(ax, **kw):
    """A legend for ``ax`` that does not hide data: ``loc="best"`` with few entries, outside
    the axes on the right with more than :data:`MAX_INSIDE_ENTRIES` (no-op without labels)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    kw.setdefault("fontsize", 7)
    if len(handles) > MAX_INSIDE_ENTRIES:
        kw.setdefault("loc", "upper left")
        kw.setdefault("bbox_to_anchor", (1.01, 1.0))
        kw.setdefault("borderaxespad", 0.0)
    else:
        kw.setdefault("loc", "best")
    ax.legend(handles, labels, **kw)


def _finite_points(artist) -> int:
    """How many finite data points ``artist`` draws (lines, collections, patches)."""
    from matplotlib.collections import Collection
    from matplotlib.container import Container
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    if isinstance(artist, Container):
        return sum(_finite_points(a) for a in artist if a is not None)
    if isinstance(artist, Line2D):
        x, y = (np.asarray(v, dtype=float) for v in artist.get_data())
        return int(np.sum(np.isfinite(x) & np.isfinite(y)))
    if isinstance(artist, Collection):
        offs = np.asarray(artist.get_offsets(), dtype=float)
        paths = artist.get_paths()
        n = int(np.sum(np.all(np.isfinite(offs), axis=-1))) if offs.size else 0
        if not n and paths:   # fill_between / vertices-only collections
            n = sum(int(np.sum(np.all(np.isfinite(p.vertices), axis=-1))) for p in paths)
        return n
    if isinstance(artist, Patch):
        return 1
    return 1   # unknown artist kinds are assumed drawn


def _style(artist):
    from matplotlib.colors import to_rgba
    get = lambda name: getattr(artist, f"get_{name}", lambda: None)()   # noqa: E731
    col = get("color")
    if col is None:
        fc = get("facecolor")
        col = fc[0] if fc is not None and np.ndim(fc) == 2 and len(fc) else fc
    try:
        col = tuple(np.round(to_rgba(col)[:3], 3))
    except (TypeError, ValueError):
        col = None
    ls, marker = get("linestyle"), get("marker")
    # collections report line styles as lists: compare styles by their text
    return col, str(ls), None if marker is None else str(marker)


def check_legends(fig) -> None:
    """Refuse a legend entry for a curve that is not drawn: each labelled handle must draw a
    finite point, or be an empty proxy whose colour, line style and marker match a drawn
    artist of the same axes. Raises ``ValueError`` naming the label."""
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        handles, labels = ax.get_legend_handles_labels()
        drawn = [a for a in list(ax.lines) + list(ax.collections) + list(ax.patches)
                 if _finite_points(a)]
        styles = {_style(a) for a in drawn}
        for h, lab in zip(handles, labels):
            if _finite_points(h):
                continue
            if _style(h) in styles:
                continue
            raise ValueError(f"legend entry {lab!r} of axes {ax.get_title()!r} stands for a "
                             f"curve that is not drawn")
