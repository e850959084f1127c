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
