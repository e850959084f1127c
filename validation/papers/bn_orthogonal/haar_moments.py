"""bn_orthogonal.haar_sampler_moments: the engine's Haar sampler vs exact Weingarten moments."""
from __future__ import annotations

import functools

import numpy as np

from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.validation.claims.claim import Verdict
from depthcheck.validation.papers.bn_orthogonal._common import _BIG
from depthcheck.kernels.random.moments import check_haar_sampler
from scipy.special import ndtri


def _qr_no_sign_fix(n, rng, d):
    return np.linalg.qr(rng.standard_normal((n, d, d)))[0]


def _haar_simulate(cfg, rng, n_trials, backend):
    d = cfg["d"]
    if cfg["sampler"] == "sample_orthogonal":
        def sampler(n, r):
            return sample_orthogonal((n,), d, r)
    elif cfg["sampler"] == "qr_no_sign_fix":
        sampler = functools.partial(_qr_no_sign_fix, d=d)
    else:
        raise ValueError(f"unknown sampler {cfg['sampler']!r}")
    zs, means, exact = [], [], []
    for _ in range(n_trials):
        res = check_haar_sampler(sampler, d, rng, n_samples=cfg["samples"],
                                 max_degree=cfg["max_degree"], n_monomials=cfg["monomials"])
        zs.append([m.z for m in res.monomials])
        means.append([m.mean for m in res.monomials])
        exact.append([float(m.exact) for m in res.monomials])
    return {"z": np.array(zs), "mean": np.array(means), "exact": np.array(exact)}


def _haar_judge(cfg, pred, ev, alpha):
    z = ev["z"]
    m = z.size
    # Bonferroni over all monomials and trials; -ndtri(p) is scipy.stats.norm.isf(p) exactly
    thr = float(-ndtri(alpha / (2 * m)))
    worst = float(np.max(np.abs(z)))
    j = np.unravel_index(np.argmax(np.abs(z)), z.shape)
    v = "PASS" if worst <= thr else "FAIL"
    detail = (f"sampler {cfg['sampler']} on O({cfg['d']}): {m} monomial means of degree <= "
              f"{cfg['max_degree']} vs exact Weingarten values ({cfg['samples']} draws each "
              f"check); max |z| = {worst:.3g} vs Bonferroni threshold {thr:.3g} "
              f"(worst: mean {ev['mean'][j]:.5g}, exact {ev['exact'][j]:.5g})")
    worst = min(worst, _BIG)
    return Verdict(v, worst, (worst, worst), thr, alpha, detail,
                   {"statements": 1, "comparisons": m, "threshold": thr})
