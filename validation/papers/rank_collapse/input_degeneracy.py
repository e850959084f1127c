"""rank_collapse.input_degeneracy: batches of digits are full rank below the data dimension."""
from __future__ import annotations

import numpy as np

from depthcheck.theory.rank import matrix_rank
from depthcheck.validation.claims.stats import proportion_ci
from depthcheck.validation.papers.rank_collapse._common import _g
from depthcheck.kernels.data import load_digits_data
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.rank_collapse._common import _detail


def _digits():
    return load_digits_data(None, test_fraction=0.0, standardise="none").X_train


def _c7_simulate(cfg, rng, n_trials, backend):
    X = np.asarray(_digits(), dtype=np.float64)          # (64, 1797), raw pixels 0..16
    n_img = X.shape[1]
    replace = bool(cfg.get("replace", False))
    off_by_one = bool(cfg.get("off_by_one", False))
    ranks = np.empty((n_trials, len(cfg["sizes"])))
    cos = np.empty_like(ranks)
    for j, n in enumerate(cfg["sizes"]):
        if replace:
            # control: n images drawn independently, with replacement (a sampler bug); a batch
            # holds a repeated image with probability 1 − Π_{k<n}(1 − k/1797) ≈ 1 − e^{−n²/3594}
            idx = rng.integers(0, n_img, size=(n_trials, n))
        else:
            # n distinct images per batch: the first n of a uniform random permutation
            idx = np.argsort(rng.random((n_trials, n_img)), axis=1)[:, :n]
        if off_by_one:
            # mutation: in a fraction 1 − (p_min − δ) of the batches the last image is the
            # first one again (an off-by-one in the batch index), so P(full rank) = p_min − δ
            frac = 1.0 - (cfg["min_full_rank_fraction"] - cfg["delta"])
            hit = rng.random(n_trials) < frac
            idx = idx.copy()
            idx[hit, -1] = idx[hit, 0]
        B = X[:, idx].transpose(1, 0, 2)                  # (trials, 64, n), columns = images
        ranks[:, j] = matrix_rank(B)
        U = B / np.linalg.norm(B, axis=1, keepdims=True)
        C = np.matmul(U.swapaxes(-1, -2), U)
        cos[:, j] = (C.sum(axis=(-2, -1)) - n) / (n * (n - 1))
    return {"rank": ranks, "cos": cos}


def _c7_predict(cfg):
    return {"full_rank_fraction_at_least": cfg["min_full_rank_fraction"],
            "judged_sizes": cfg["judged_sizes"]}


def _c7_judge(cfg, pred, ev, alpha):
    sizes = cfg["sizes"]
    rk, cos = ev["rank"], ev["cos"]
    K = len(cfg["judged_sizes"])
    fam = Family(alpha, K)
    for j, n in enumerate(sizes):
        if n not in cfg["judged_sizes"]:
            continue
        k = int(np.sum(rk[:, j] == n))
        e = proportion_ci(k, rk.shape[0], alpha / K)
        fam.add_lower(f"P(batch of {n} digits is full rank)", e.estimate, e.ci,
                      cfg["min_full_rank_fraction"])
    X = _digits()
    data_rank = int(np.linalg.matrix_rank(X))
    extra = {"sizes": sizes, "mean_rank": rk.mean(0).tolist(), "sd_rank": rk.std(0).tolist(),
             "mean_cosine_similarity": cos.mean(0).tolist(), "dataset_rank": data_rank,
             "constant_pixels": int(np.sum(X.std(axis=1) == 0))}
    note = (f"digits are 64-dimensional with {extra['constant_pixels']} always-zero pixels "
            f"(data rank {data_rank}), so batches of 64 cannot be full rank (mean rank "
            f"{_g(rk[:, -1].mean())} at n = {sizes[-1]}), and Theorem 14's rank X = d with N >= d "
            f"is unattainable on raw digits; mean cosine similarity "
            f"{_g(cos.mean())} (highly correlated samples, as App. D notes)")
    return fam.verdict(_detail(fam, note), prediction=cfg["min_full_rank_fraction"],
                       tiebreak="order", extra=extra)
