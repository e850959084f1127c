"""Exact checks of Lemma 6 and Examples 11–12 of Daneshmand et al. 2020 (arXiv:2003.01652).

* ``rank_collapse.lemma6_rank_one_absorbing``: on the BN chain a rank-one state stays rank one
  with |M_ij| = 1, and for γ < γ* = 1/(√3 d) (U[−√3, √3] weights) its sign pattern, hence M,
  is frozen (``docs/derivations/rank_lemmas.md`` §1).
* ``rank_collapse.example12_regularity``: for the equal-row-norm matrices M_c = (1 − c)I + c11ᵀ
  Definition 3's ratio equals Proposition 8's eigenvalue form, is <= 1 with equality iff the
  non-zero eigenvalues are equal (Example 11), and is < 0.9 for every d >= d0(c) when c < 0.9
  (Example 12) (``docs/derivations/rank_lemmas.md`` §2).

Both are exact statements (deterministic identities and inequalities evaluated to rounding on
random cases); the judge reports the worst margin of each, as ``lemma1_bounds`` does.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.chain.rank import normalise, sample_weights
from depthcheck.theory import rank_lemmas as rl
from depthcheck.theory import rank_markov as rm
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.rank_collapse._common import _g, _gamma

_SQ3 = math.sqrt(3.0)


def _exact_judge(names, margins, tol, what, extra=None):
    """Family of exact statements: statement k holds iff min over cases of margins[:, k] >= −tol."""
    mins = margins.min(axis=0)
    fam = Family(1e-5, len(names))
    for name, v in zip(names, mins):
        fam.add(f"min over cases of {name}", "PASS" if v >= -tol else "FAIL", v, (v, v), -tol,
                v + tol, kind="lower", bound=[-tol])
    worst = fam.decisive("margin")
    n_bad = int((mins < -tol).sum())
    detail = (f"exact ({what}): {len(names) - n_bad}/{len(names)} statements hold at every "
              f"evaluated case ({margins.shape[0]} trials), tolerance {tol:g} for rounding; worst "
              f"margin: {worst['name']} = {_g(worst['statistic'])}")
    return fam, detail, {"min_margin_per_statement": dict(zip(names, mins.tolist())),
                         **(extra or {})}


# --------------------------------------------------------------------------------------------
# Lemma 6


def _rank_one_state(rng, d, n):
    """A rank-one BN state s (√n v/‖v‖)ᵀ with random signs s and direction v."""
    s = rng.choice([-1.0, 1.0], size=d)
    v = rng.standard_normal(n)
    return normalise(np.outer(s, v), "bn_nomean"), s


def _step(H, W, gamma):
    A = W @ H
    if math.isfinite(gamma):
        A = H + gamma * A
    return normalise(A, "bn_nomean")


def _M(H):
    return H @ H.T / H.shape[1]


def _l6_names(cfg):
    return (["σ2/σ1 of H_+ = 0 (rank one kept), all γ",
             "||M_ij(H_+)| − 1| = 0, all γ",
             f"M(H_+) = M(H) (signs frozen), γ = {cfg['freeze_factor']} γ*, random and "
             f"worst-case W",
             f"M(H_l) = M(H_0) along {cfg['path_depth']} steps, γ = {cfg['path_factor']} γ*"])


def _l6_simulate(cfg, rng, n_trials, backend):
    """Per trial, the worst margin (−error) of each statement over ``cases`` one-step cases per
    (d, γ) from exact rank-one states (``gammas`` with "inf" = no skip, and γ = freeze_factor γ*
    with random and the worst-case W_ij = −√3 s_i s_j) and over one ``path_depth``-step path at
    γ = path_factor γ* per d. γ* = 1/(√3 d) (theory.rank_lemmas.lemma6_sign_freeze_gamma)."""
    out = np.zeros((n_trials, 4))
    for t in range(n_trials):
        m = np.full(4, np.inf)
        for d in cfg["widths"]:
            n = cfg["n"]
            gstar = rl.lemma6_sign_freeze_gamma(d, _SQ3)
            gf = cfg["freeze_factor"] * gstar
            for g in [_gamma(x) for x in cfg["gammas"]] + [gf]:
                for k in range(cfg["cases"]):
                    H, s = _rank_one_state(rng, d, n)
                    W = sample_weights(rng, (), d, cfg["weights"])
                    if g == gf and k == 0:
                        # worst case for row 0: W_0j = −√3 s_0 s_j attains |(W s)_0| = √3 d
                        # (a flip of every row at once would leave M = s sᵀ unchanged)
                        W[0] = -_SQ3 * s[0] * s
                    Hp = _step(H, W, g)
                    sv = np.linalg.svd(Hp, compute_uv=False)
                    Mp = _M(Hp)
                    m[0] = min(m[0], -sv[1] / sv[0])
                    m[1] = min(m[1], -np.max(np.abs(np.abs(Mp) - 1.0)))
                    if g == gf:
                        m[2] = min(m[2], -np.max(np.abs(Mp - _M(H))))
            H, _ = _rank_one_state(rng, d, n)
            M0 = _M(H)
            gp = cfg["path_factor"] * gstar
            for _ in range(cfg["path_depth"]):
                H = _step(H, sample_weights(rng, (), d, cfg["weights"]), gp)
                m[3] = min(m[3], -np.max(np.abs(_M(H) - M0)))
        out[t] = m
    return {"margins": out}


def _l6_predict(cfg):
    return {"statements": _l6_names(cfg), "all_margins_at_least": 0.0,
            "gamma_star": {str(d): rl.lemma6_sign_freeze_gamma(d, _SQ3) for d in cfg["widths"]}}


def _l6_judge(cfg, pred, ev, alpha):
    fam, detail, extra = _exact_judge(_l6_names(cfg), ev["margins"], cfg["tol"],
                                      "Lemma 6: rank one is absorbing; signs frozen for γ < γ*",
                                      {"gamma_star": pred["gamma_star"]})
    return fam.verdict(detail, prediction=0.0, tiebreak="margin", extra=extra)


# --------------------------------------------------------------------------------------------
# Examples 11 and 12


def _circulant_correlation(rng, d):
    """A random symmetric circulant PSD matrix with unit diagonal (equal row norms)."""
    k = np.arange(d)
    # non-negative symmetric spectrum with mean 1 -> unit diagonal
    half = rng.exponential(1.0, d // 2 + 1)
    lam = np.concatenate([half, half[1:(d + 1) // 2][::-1]])[:d]
    lam = lam * d / lam.sum()
    F = np.exp(2j * np.pi * np.outer(k, k) / d) / math.sqrt(d)
    return np.real(F @ np.diag(lam) @ F.conj().T)


def _e12_names(cfg):
    return ["Def. 3 ratio from M = Prop. 8 eigen form (equal row norms), relative",
            "Def. 3 ratio of M_c = closed form β(d, c), relative",
            "1 − β(M) >= 0 for equal row norms (Example 11)",
            "β = 1 exactly at c = 0 and c = 1 (Example 11: equal non-zero eigenvalues)",
            f"{cfg['threshold']} − β(d, c) > 0 for all d >= d0(c), c in the judged range "
            f"(Example 12)"]


def _beta_matrix(M):
    return float(rm.row_norm4_sum(M) / rm.trace_cube(M))


def _e12_simulate(cfg, rng, n_trials, backend):
    """Per trial: random widths d (``d_range``) and random c in (0, c_max); random circulant
    correlation matrices for Prop. 8; the Example-12 margin 0.9 − β(d, c) over every d from
    d0(c) to ``d_check`` (closed form) and at the matrix widths (matrix form). A configured
    ``c_fixed`` (control) replaces the random c of the Example-12 statement."""
    lo, hi = cfg["d_range"]
    thr = cfg["threshold"]
    out = np.zeros((n_trials, 5))
    for t in range(n_trials):
        m = np.full(5, np.inf)
        for _ in range(cfg["cases"]):
            d = int(rng.integers(lo, hi + 1))
            M = _circulant_correlation(rng, d)
            lam = np.linalg.eigvalsh(M)
            prop8 = float(np.sum(lam ** 2) ** 2 / (d * np.sum(lam ** 3)))
            b = _beta_matrix(M)
            m[0] = min(m[0], -abs(b - prop8) / prop8)
            m[2] = min(m[2], 1.0 - b)
            c = float(rng.uniform(0.0, 1.0))
            Mc = rl.example12_matrix(d, c)
            bc = _beta_matrix(Mc)
            m[1] = min(m[1], -abs(bc - rl.example12_regularity_constant(d, c)) / bc)
            m[2] = min(m[2], 1.0 - bc)
            for c_end in (0.0, 1.0):
                m[3] = min(m[3], -abs(_beta_matrix(rl.example12_matrix(d, c_end)) - 1.0))
            c12 = (float(cfg["c_fixed"]) if "c_fixed" in cfg
                   else float(rng.uniform(cfg["c_min"], cfg["c_max"])))
            if c12 < thr:
                d0 = rl.example12_min_width(c12, thr)
            else:
                d0 = 2       # no d0 exists: every width is "sufficiently large" for the claim
            # β(d, c) decreases in d (rank_lemmas.md §2): d0 and its neighbours decide, a
            # geometric grid up to d_check guards the monotonicity
            ds = np.unique(np.concatenate([
                np.arange(d0, d0 + 8), np.geomspace(d0, cfg["d_check"], 16).astype(int)]))
            m[4] = min(m[4], min(thr - float(rl.example12_regularity_constant(int(x), c12))
                                 for x in ds))
            if d >= d0:
                m[4] = min(m[4], thr - _beta_matrix(rl.example12_matrix(d, c12)))
        out[t] = m
    return {"margins": out}


def _e12_predict(cfg):
    return {"statements": _e12_names(cfg), "all_margins_at_least": 0.0,
            "d0": {f"{c:g}": rl.example12_min_width(c, cfg["threshold"])
                   for c in (0.1, 0.5, 0.8, 0.85)}}


def _e12_judge(cfg, pred, ev, alpha):
    fam, detail, extra = _exact_judge(
        _e12_names(cfg), ev["margins"], cfg["tol"],
        "Prop. 8 identity, Example 11 (β <= 1), Example 12 (β < 0.9 for d >= d0(c), c < 0.9)",
        {"d0_of_c": pred["d0"]})
    return fam.verdict(detail, prediction=0.0, tiebreak="margin", extra=extra)
