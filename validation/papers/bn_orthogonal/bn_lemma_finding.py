"""bn_orthogonal.bn_isometry_n_lt_d_finding: for n < d, Bn can decrease isometry (counterexamples
to Lemma A.1 outside n = d)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.random.haar import sample_stiefel
from depthcheck.theory.isometry import isometry_gap, row_normalize
from depthcheck.validation.claims.claim import Verdict
from depthcheck.validation.papers.bn_orthogonal._common import _part


def _finding_simulate(cfg, rng, n_trials, backend):
    out = {}
    for d, n in cfg["shapes"]:
        c = cfg["cases"]
        G = rng.standard_normal((n_trials, c, d, n)) * np.exp(rng.standard_normal((n_trials, c, d, 1)))
        Q = sample_stiefel((n_trials, c), d, n, rng)        # I(Q) = 1, unequal row norms if n < d
        H = np.concatenate([G, Q], axis=1)
        if (d, n) == (3, 2):                                 # the explicit counterexample
            s = 1.0 / math.sqrt(2.0)
            E = np.broadcast_to(np.array([[1.0, 0.0], [0.0, s], [0.0, s]]), (n_trials, 1, 3, 2))
            H = np.concatenate([H, E], axis=1)
        out[f"log_ratio_{d}x{n}"] = isometry_gap(H) - isometry_gap(row_normalize(H))
    return out


def _finding_judge(cfg, pred, ev, alpha):
    tol = cfg["tol"]
    parts, info = [], {}
    for d, n in cfg["shapes"]:
        x = ev[f"log_ratio_{d}x{n}"]
        c = cfg["cases"]
        worst = float(np.min(x))
        info[f"{d}x{n}"] = {"min_ratio": math.exp(worst), "cases": int(x.size),
                            "fraction_decreased_gaussian": float(np.mean(x[:, :c] < -tol)),
                            "fraction_decreased_frames": float(np.mean(x[:, c:2 * c] < -tol))}
        if (d, n) == (3, 2):
            info["3x2"]["explicit_counterexample_ratio"] = math.exp(float(x[0, -1]))
        parts.append(_part(f"d = {d}, n = {n}: min log I(Bn(H)) − log I(H)",
                           "PASS" if worst < -tol else "FAIL", worst, (worst, worst), -tol,
                           -tol - worst))
    # the finding is an existence statement: it holds if ANY shape shows a decrease
    any_pass = any(p["decision"] == "PASS" for p in parts)
    best = min(parts, key=lambda p: p["statistic"])
    verdict = "PASS" if any_pass else "FAIL"
    detail = (f"Bn can decrease isometry when n < d: smallest ratio I(Bn(H))/I(H) per shape "
              + "; ".join(f"{k}: {v['min_ratio']:.4g} (decreased in "
                          f"{100 * v['fraction_decreased_gaussian']:.1f}% of Gaussian H with "
                          f"log-normal row scales and "
                          f"{100 * v['fraction_decreased_frames']:.1f}% of orthonormal-column H)"
                          for k, v in info.items())
              + (f"; explicit H = [[1,0],[0,s],[0,s]], s = 1/√2: I(H) = 1, I(Bn(H)) = "
                 f"{info['3x2']['explicit_counterexample_ratio']:.6f} = √2/1.5"
                 if "3x2" in info else "")
              + f". Claim PASSes iff some case decreases by more than the tolerance {tol}.")
    return Verdict(verdict, best["statistic"], tuple(best["ci"]), -tol, alpha, detail,
                   {"statements": 1, "comparisons": len(parts), "shapes": info, "tol": tol})
