"""bn_orthogonal.bn_never_decreases_isometry: rotation + Bn never decreases isometry for n = d
(Lemma A.1 / Lemma 2)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.random.haar import sample_orthogonal, sample_stiefel
from depthcheck.theory import bn_orthogonal as th
from depthcheck.theory.isometry import isometry_gap, row_normalize
from depthcheck.validation.papers.bn_orthogonal._common import _BIG, _part
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.bn_orthogonal._common import _g


_LEMMA_KINDS = ("gaussian", "row_scales", "collinear", "near_orthogonal", "huge", "tiny",
                "bn_output", "fig1")


def _lemma_cases(kind, B, d, n, rng, max_cond=1e6):
    """B matrices (B, d, n) of one adversarial family, conditioned on being non-degenerate:
    a draw with cond(H) > ``max_cond`` is redrawn (the lemma assumes non-degenerate H, and
    float64 log det is accurate only for moderate condition numbers)."""
    H = _lemma_draw(kind, B, d, n, rng)
    for _ in range(50):
        bad = ~(np.linalg.cond(H) <= max_cond)
        if not bad.any():
            return H
        H[bad] = _lemma_draw(kind, int(bad.sum()), d, n, rng)
    raise ValueError(f"case family {kind!r} at d={d}, n={n} keeps exceeding cond {max_cond:g}")


def _lemma_draw(kind, B, d, n, rng):
    G = rng.standard_normal((B, d, n))
    if kind == "gaussian":
        return G
    if kind == "row_scales":          # row norms spread over up to 3 decades
        return G * 10.0 ** (1.5 * rng.uniform(-1, 1, (B, d, 1)))
    if kind == "collinear":           # columns within ~1e-2 of a common direction
        return rng.standard_normal((B, d, 1)) + 1e-2 * G
    if kind == "near_orthogonal":     # Q + 1e-3 G (I(H) ≈ 1)
        Q = sample_stiefel((B,), d, n, rng)
        return Q + 1e-3 * G / math.sqrt(d)
    if kind == "huge":
        return 1e150 * G * np.exp(rng.standard_normal((B, d, 1)))
    if kind == "tiny":
        return 1e-150 * G * np.exp(rng.standard_normal((B, d, 1)))
    if kind == "bn_output":           # already normalised rows: equality case of Lemma A.1
        return row_normalize(G)
    if kind == "fig1":
        u, v = rng.random((B, d, 1)), rng.random((B, 1, n))
        return 0.995 * np.eye(d)[:, :n] + 0.005 * u * v
    raise ValueError(f"unknown lemma case kind {kind!r}")


def _apply_operator(op, H):
    if op == "bn":
        return row_normalize(H)
    if op == "antinorm":
        # diag(a)^{1/2} H (rows multiplied by their norms), divided by the largest row norm to
        # stay finite for H ~ 1e150 (I is scale invariant, so the isometry is unchanged)
        m = np.max(np.abs(H), axis=(-2, -1), keepdims=True)
        nrm = np.linalg.norm(H / m, axis=-1, keepdims=True)
        return (H / m) * (nrm / np.max(nrm, axis=-2, keepdims=True))
    raise ValueError(f"unknown operator {op!r}")


def _phi_rounding(H):
    """Rounding bound on a float64 φ(H) (Cholesky of HᵀH): n·eps·cond(H)² (backward stability
    of Cholesky; the measured errors are ~20x smaller). Lemma margins and identity errors are
    judged against tol + the rounding bounds of the φ values they combine."""
    n = H.shape[-1]
    with np.errstate(over="ignore"):
        return np.minimum(n * np.finfo(np.float64).eps * np.linalg.cond(H) ** 2, _BIG)


def _lemma_n(cfg, d):
    """Batch size n of the inputs at width d: n = d (the lemma's assumption) unless the
    configuration's ``n_over_d`` (the control: tall inputs, outside that assumption) says less."""
    return max(1, int(round(d * cfg["n_over_d"])))


def _lemma_simulate(cfg, rng, n_trials, backend):
    out = {}
    c = cfg["cases"]
    for d in cfg["sizes"]:
        n = _lemma_n(cfg, d)
        shape = (n_trials, len(_LEMMA_KINDS), c)
        lem, ide, rnd_l, rnd_i = (np.empty(shape) for _ in range(4))
        for t in range(n_trials):
            for j, kind in enumerate(_LEMMA_KINDS):
                H = _lemma_cases(kind, c, d, n, rng)
                W = sample_orthogonal((c,), d, rng)
                if kind in ("huge", "tiny"):      # W·H of the same matrix, computed in range
                    s = 1e-150 if kind == "huge" else 1e150
                    WH = (W @ (H * s)) / s
                else:
                    WH = W @ H
                out_wh = _apply_operator(cfg["operator"], WH)
                out_h = _apply_operator(cfg["operator"], H)
                phi_h = isometry_gap(H)
                # Lemma 2: log I(op(WH)) − log I(H) = φ(H) − φ(op(WH)) >= 0
                lem[t, j] = phi_h - isometry_gap(out_wh)
                # exact identity (Lemma A.1, derived in docs/derivations/isometry_bn.md §1):
                # φ(H) − φ(Bn(H)) = log AM(a)/GM(a)
                ide[t, j] = (phi_h - isometry_gap(out_h)) - th.lemma_a1_log_factor(H)
                r_h = _phi_rounding(H)
                rnd_l[t, j] = r_h + _phi_rounding(out_wh)
                rnd_i[t, j] = r_h + _phi_rounding(out_h)
        out[f"lemma_margin_{d}"] = lem
        out[f"identity_error_{d}"] = ide
        out[f"rounding_lemma_{d}"] = rnd_l
        out[f"rounding_identity_{d}"] = rnd_i
    return out


def _lemma_judge(cfg, pred, ev, alpha):
    fam = Family(alpha, 2 * len(cfg["sizes"]))
    tol = cfg["tol"]
    summary = {}
    for d in cfg["sizes"]:
        lem = ev[f"lemma_margin_{d}"]
        ide = np.abs(ev[f"identity_error_{d}"])
        tl = tol + ev[f"rounding_lemma_{d}"]
        ti = tol + ev[f"rounding_identity_{d}"]
        # in units of the tolerance: >= -1 (lemma) / <= 1 (identity) where they hold to
        # rounding; an operator output that is numerically singular (φ = ∞) counts as ∓∞
        sl = np.where(np.isinf(lem), lem, lem / tl)
        si = np.where(np.isinf(ide), ide, ide / ti)
        worst_l = float(np.min(sl))
        worst_i = float(np.max(si))
        n = _lemma_n(cfg, d)
        fam.add(**_part(f"d = {d}, n = {n}: min of [log I(op(WH)) − log I(H)] / tolerance",
                        "PASS" if worst_l >= -1 else "FAIL", worst_l, (worst_l, worst_l),
                        -1.0, worst_l + 1.0))
        fam.add(**_part(f"d = {d}, n = {n}: max |log I(op(H)) − log I(H) − log AM(a)/GM(a)| / "
                        f"tolerance", "PASS" if worst_i <= 1 else "FAIL", worst_i,
                        (worst_i, worst_i), 1.0, 1.0 - worst_i))
        kinds = {k: {"min_lemma_margin": float(lem[:, j].min()),
                     "max_identity_error": float(ide[:, j].max()),
                     "max_tolerance": float(max(tl[:, j].max(), ti[:, j].max()))}
                 for j, k in enumerate(_LEMMA_KINDS)}
        summary[str(d)] = {"violations_lemma": int(np.sum(sl < -1)),
                           "violations_identity": int(np.sum(si > 1)),
                           "cases": int(lem.size), "by_kind": kinds}
    what = (f"operator {cfg['operator']!r}: Lemma 2 / A.1 I(op(W H)) >= I(H) and the identity "
            f"I(op(H)) = I(H)·AM(a)/GM(a) on {len(_LEMMA_KINDS)} input families (random, row "
            f"norms over 3 decades, nearly collinear columns, near-orthogonal, ×1e±150, Bn "
            f"outputs, Fig. 1 input; cond(H) <= 1e6), "
            f"{'square H (n = d)' if cfg['n_over_d'] == 1 else 'tall H (n < d, outside the lemma)'}; deterministic, each case against "
            f"its tolerance {tol:g} + n·eps·cond² of the φ values involved (statistic in units "
            f"of that tolerance)")
    return fam.verdict(fam.summary(what, fmt=_g), extra={"by_size": summary, "tol": tol})
