"""Figure callbacks of validation/papers/bn_orthogonal/figures_lemmas.py on tiny runs of the
statistical claims of claims_lemmas.py (claim and control, and without a control)."""
import numpy as np
import pytest

from depthcheck.validation.claims.claim import ClaimResult
from depthcheck.validation.papers.bn_orthogonal import claims_lemmas as cl

ALPHA = 1e-5


def _ht_tiny(**over):
    return dict(cl.HITTING_TIME.config("quick"), widths=[4], depth_over_d=15, **over)


@pytest.mark.parametrize("name", ["corollary4", "theorem5", "hitting_time"])
def test_figures_draw(tmp_path, name):
    c, cfg = {"corollary4": (cl.COROLLARY4, dict(cl.COROLLARY4.config("quick"), d=6)),
              "theorem5": (cl.THEOREM5_SCALING, dict(cl.THEOREM5_SCALING.config("quick"),
                                                     depth_over_d=2, widths=[4], n_out=4)),
              "hitting_time": (cl.HITTING_TIME, _ht_tiny())}[name]
    res = []
    for ctrl in (False, True):
        cc = {**cfg, **c.control} if ctrl else cfg
        ev = c.simulate(cc, np.random.default_rng(2), 8, "numpy")
        v = c.judge(cc, c.predict(cc), ev, ALPHA)
        res.append(ClaimResult(c.id, ctrl, cc, c.predict(cc), ev, v, 8))
    paths = c.figure(cfg, res[0], res[1], tmp_path)
    assert paths and all(p.is_file() and p.with_suffix(".pdf").is_file() for p in paths)
    if name == "hitting_time":          # one figure without a control (each save costs ~1 s)
        assert c.figure(cfg, res[0], None, tmp_path)


def test_corollary4_figure_draws_censored_draw(tmp_path, monkeypatch):
    """A control whose near_collinear decreases hold one −inf (φ(Bn(WX)) = +inf, censored by the
    judge) still gets its point: an open marker at the upper value (φ(X) substituted), and the
    legend, an annotation and the title say that a draw is censored."""
    from depthcheck.validation.papers.bn_orthogonal import figures_lemmas as fl
    from depthcheck.validation.papers.bn_orthogonal.corollaries import _c4_censored
    c = cl.COROLLARY4
    cfg = dict(c.config("quick"), d=6)
    res = []
    for ctrl in (False, True):
        cc = {**cfg, **c.control} if ctrl else cfg
        ev = c.simulate(cc, np.random.default_rng(2), 8, "numpy")
        if ctrl:
            ev["decrease_near_collinear"] = ev["decrease_near_collinear"].copy()
            ev["decrease_near_collinear"][3] = -np.inf
        v = c.judge(cc, c.predict(cc), ev, ALPHA)
        res.append(ClaimResult(c.id, ctrl, cc, c.predict(cc), ev, v, 8))
    figs = []
    real = fl.save_figure
    monkeypatch.setattr(fl, "save_figure", lambda fig, *a, **k: (figs.append(fig), real(fig, *a, **k))[1])
    paths = c.figure(cfg, res[0], res[1], tmp_path)
    assert paths and all(p.is_file() and p.with_suffix(".pdf").is_file() for p in paths)
    (fig,) = figs
    assert "1 censored draw" in fig._suptitle.get_text()
    ctl = res[1]
    phi = ctl.prediction["near_collinear"]["phi"]
    Dc, k = _c4_censored(ctl.evidence["decrease_near_collinear"], phi, "near_collinear")
    assert k == 1 and np.all(np.isfinite(Dc))
    i = fl._C4_NAMES.index("near_collinear")
    for ax, key in zip(fig.axes, ("cor4", "b2")):
        labels = ax.get_legend_handles_labels()[1]
        assert any("1 censored draw" in s and "(−inf decrease; upper value shown)" in s
                   for s in labels)
        assert any("censored" in t.get_text() for t in ax.texts)
        # the control's near_collinear point is drawn, finite, at the substituted upper value
        want = float(np.mean(Dc)) / float(np.mean(ctl.evidence[f"{key}_near_collinear"]))
        pts = [xy for line in ax.lines if line.get_marker() == "o"
               for xy in np.column_stack(line.get_data())]
        near = [y for xx, y in pts if abs(xx - (i + 0.12)) < 1e-9]
        assert near and np.isfinite(near).all() and np.isclose(near[0], want)
        # with an open marker
        open_ = [line for line in ax.lines if line.get_marker() == "o"
                 and str(line.get_markerfacecolor()) == "none"]
        assert open_
