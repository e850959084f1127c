"""rank_collapse.lemma1_bounds: rank(H) >= r(H) and rank_τ(H) >= (1−τ)² r(H) at every layer (Lemma
1)."""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.chain.rank import gaussian_input, rank_chain
from depthcheck.theory import rank_markov as rm
from depthcheck.theory.rank import matrix_rank, rank_lower_bound
from depthcheck.validation.papers.rank_collapse._common import _gamma
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.rank_collapse._common import _g


def _c2_margins(r, rank, lam, taus):
    """Per-layer Lemma-1 margins (..., n_bounds): rank − r, then per τ the eigen and singular
    soft-rank margins rank_τ − (1−τ)² r."""
    cols = [rank - r]
    for t in taus:
        b = rm.lemma1_soft_rank_bound(r, t)
        cols.append(np.sum(lam > t, axis=-1) - b)
        cols.append(np.sum(lam > t * t, axis=-1) - b)
    return np.stack(cols, axis=-1)


def _c2_bound_names(cfg):
    names = ["rank(H) - r(H) (BN chain states)"]
    for t in cfg["taus"]:
        names += [f"rank_τ(eigen) - (1-τ)² r, τ={t}", f"rank_τ(singular) - (1-τ)² r, τ={t}"]
    return names + ["rank(H) - r(H) (adversarial matrices)"]


#: the configuration's norm (the paper's "bn" = Bn without mean subtraction, eq. 2) in the
#: chain engine's names
_CONFIG_NORMS = {"bn": "bn_nomean", "rownorm": "rownorm"}


def _c2_simulate(cfg, rng, n_trials, backend):
    taus = cfg["taus"]
    if cfg["norm"] not in _CONFIG_NORMS:
        raise ValueError(f"norm={cfg['norm']!r}: the configuration's norm must be one of "
                         f"{tuple(_CONFIG_NORMS)}")
    norm = _CONFIG_NORMS[cfg["norm"]]
    worst = None
    for c in cfg["configs"]:
        for d in cfg["widths"]:
            X = gaussian_input(d, d, n_trials, rng)
            out = rank_chain(X, cfg["depth"], rng=rng, gamma=_gamma(c["gamma"]),
                             weights=c["weights"], norm=norm, activation="identity",
                             record_every=1, record=("rank_lower_bound", "rank", "top_eigs"),
                             top_k=d, tau=0.5, backend=backend)
            m = _c2_margins(out["rank_lower_bound"], out["rank"], out["top_eigs"],
                            taus).min(axis=1)
            worst = m if worst is None else np.minimum(worst, m)
    # Lemma 1 part 1 for arbitrary H: low-rank and ill-conditioned matrices, exact rank known
    adv = np.full(n_trials, np.inf)
    for d in cfg["widths"]:
        for _ in range(cfg["adversarial_per_width"]):
            k = int(rng.integers(1, d + 1))
            U = np.linalg.qr(rng.standard_normal((n_trials, d, d)))[0][..., :k]
            V = np.linalg.qr(rng.standard_normal((n_trials, d, d)))[0][..., :k]
            s = np.exp(rng.uniform(np.log(1e-6), 0.0, (n_trials, k)))
            H = np.matmul(U * s[:, None, :], V.swapaxes(-1, -2))
            adv = np.minimum(adv, matrix_rank(H) - rank_lower_bound(H))
    return {"margins": np.concatenate([worst, adv[:, None]], axis=1)}


def _c2_predict(cfg):
    return {"bounds": _c2_bound_names(cfg), "all_margins_at_least": 0.0}


def _c2_judge(cfg, pred, ev, alpha):
    """Exact statements: every margin of every layer and trial must be >= −tol (rounding). The
    verdict's statistic is the worst margin over all bounds (the report's "worst error /
    margin"); each bound's own minimum is a part of the family (degenerate intervals: there is
    no sampling error)."""
    m = ev["margins"]
    names = _c2_bound_names(cfg)
    tol = cfg["tol"]
    mins = m.min(axis=0)
    fam = Family(alpha, len(names))
    for name, v in zip(names, mins):
        verdict = "PASS" if v >= -tol else "FAIL"
        fam.add(f"min over trials and layers of {name}", verdict, v, (v, v), -tol, v + tol,
                kind="lower", bound=[-tol])
    worst = fam.decisive("margin")
    n_bad = int((m < -tol).sum())
    detail = (f"exact (Cauchy–Schwarz, Lemma 1): {len(names) - int((mins < -tol).sum())}/"
              f"{len(names)} bounds hold at every evaluated case ({m.shape[0]} trials x "
              f"{cfg['depth']} layers x {len(cfg['configs']) * len(cfg['widths'])} chains, plus "
              f"{cfg['adversarial_per_width'] * len(cfg['widths'])} adversarial matrices per "
              f"trial), tolerance {tol:g} for rounding; worst margin: {worst['name']} = "
              f"{_g(worst['statistic'])}; {n_bad} violations")
    return fam.verdict(detail, prediction=0.0, tiebreak="margin",
                       extra={"violations_per_bound": (m < -tol).sum(axis=0).tolist(),
                              "min_margin_per_bound": dict(zip(names, mins.tolist()))})
