"""bn_orthogonal.hitting_time_bounds (Lemmas C.5, C.6, C.7; statistical) of Meterez et al. 2024
(arXiv:2310.02012): the hitting time τ of the threshold φ_c = 1/(4d) by the isometry-gap chain,
the gap summed after τ, and the Markov "failure" probability after τ, against the bounds derived
in docs/derivations/bn_lemmas.md §5 and §7."""
from __future__ import annotations

import numpy as np

from depthcheck.kernels import simulate_chain
from depthcheck.theory import bn_lemmas as tl
from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.bn_orthogonal._common import (_BIG, _chain_backend, _g,
                                                                _input_rng, _mean_ci_inf)
from depthcheck.validation.papers.bn_orthogonal.theorem5_scaling import phi0_input


def _phi_c(d: int) -> float:
    return 1.0 / (4.0 * d)


def _depth(cfg, d: int) -> int:
    return int(cfg["depth_over_d"]) * d


def _grid(cfg, d: int) -> list[float]:
    """The input gaps φ0 of width d: multiples of φ_c (all above it: τ >= 1)."""
    return [float(r) * _phi_c(d) for r in cfg["phi0_over_c"]]


def hitting_stats(P, d: int, window: int):
    """Per-trial statistics of φ paths ``P`` (shape (..., L+1), layers 0..L, non-increasing for
    Haar chains) against the threshold φ_c = 1/(4d).

    Returns ``(tau, tail, fail)``: τ = first layer with φ_l <= φ_c (+inf if none within L: a
    censored chain); ``tail`` = Σ_{τ<=l<=L} φ_l + φ_L·k (k = 1/(1 − ρ) of Lemma B.2: the
    lemma's own geometric tail beyond L, an overestimate of the true remainder, so truncation can
    only make the bound harder to meet; 0 for a censored chain, whose sum after τ is empty);
    ``fail`` = the fraction of the steps τ → τ+1, …, τ+window−1 → τ+window (those within L) on
    which φ_{l+1} > q φ_l, q = 1 − 1/(2k) (Lemma C.7's failure event; 0 when no step is left).
    """
    P = np.asarray(P, dtype=np.float64)
    L = P.shape[-1] - 1
    k = 1.0 / (1.0 - tl.lemma_b2_contraction(d))
    q, _, _ = tl.lemma_c7_markov_failure_bound(d)
    hit = P <= _phi_c(d)
    reached = hit.any(axis=-1)
    first = np.argmax(hit, axis=-1)
    tau = np.where(reached, first.astype(np.float64), np.inf)
    lay = np.arange(L + 1)
    after = reached[..., None] & (lay >= first[..., None])
    with np.errstate(invalid="ignore"):
        tail = np.where(reached, np.sum(np.where(after, P, 0.0), axis=-1)
                        + np.where(reached, P[..., -1], 0.0) * k, 0.0)
        steps = reached[..., None] & (lay[:-1] >= first[..., None]) \
            & (lay[:-1] < first[..., None] + window)
        failed = steps & (P[..., 1:] > q * P[..., :-1])
    n_steps = steps.sum(axis=-1)
    fail = np.where(n_steps > 0, failed.sum(axis=-1) / np.maximum(n_steps, 1), 0.0)
    return tau, tail, fail


def _ht_simulate(cfg, rng, n_trials, backend):
    """For each width: φ paths of Haar-Bn chains (the paper's Bn, linear activation, n = d) from
    fixed inputs with φ0 = r·φ_c (r in phi0_over_c; all inputs of a width in one batch), and the
    per-trial τ, tail sum and failure fraction (:func:`hitting_stats`)."""
    out = {}
    for d in cfg["widths"]:
        grid = _grid(cfg, d)
        L = _depth(cfg, d)
        X = np.concatenate([np.broadcast_to(phi0_input(d, p, _input_rng(cfg, d, j)),
                                            (n_trials, d, d)) for j, p in enumerate(grid)])
        o = simulate_chain(X, L, trials=len(grid) * n_trials, rng=rng, weights=cfg["weights"],
                           norm="rownorm", record=("isometry_gap",),
                           backend=_chain_backend(backend))
        P = o["isometry_gap"].reshape(len(grid), n_trials, L + 1).transpose(1, 0, 2)
        out[f"phi_{d}"] = P
        out[f"tau_{d}"], out[f"tail_{d}"], out[f"fail_{d}"] = hitting_stats(P, d, cfg["window"])
    return out


def _ht_inf_keys(widths):
    return tuple(f"{k}_{d}" for d in widths for k in ("phi", "tau"))


def _bounds(cfg, d):
    _, p, _ = tl.lemma_c7_markov_failure_bound(d)
    return {"c5": [float(tl.lemma_c5_hitting_time_bound(phi0, d)) for phi0 in _grid(cfg, d)],
            "c6": float(tl.lemma_c6_tail_sum_bound(d)), "c7": float(p),
            "c6_markov_route": float(_phi_c(d) / (1.0 - tl.lemma_c7_markov_failure_bound(d)[2]))}


def _ht_predict(cfg):
    return {str(d): dict(_bounds(cfg, d), phi0=_grid(cfg, d), phi_c=_phi_c(d))
            for d in cfg["widths"]}


def _ht_judge(cfg, pred, ev, alpha):
    n_in = len(cfg["phi0_over_c"])
    fam = Family(alpha, 3 * n_in * len(cfg["widths"]))
    summary = {}
    for d in cfg["widths"]:
        b = _bounds(cfg, d)
        rows = {}
        for j, phi0 in enumerate(_grid(cfg, d)):
            tau = ev[f"tau_{d}"][:, j]
            # C.5: E τ <= (φ0 − φ_c)/b(φ_c); a censored chain only bounds τ from below (by L)
            est, ci = _mean_ci_inf(tau / b["c5"][j], fam.level, _depth(cfg, d) / b["c5"][j])
            fam.add_upper(f"d = {d}, φ0 = {phi0:.4g}: C.5 E τ / bound", est, ci, 1.0)
            # C.6: E Σ_{l>=τ} φ_l <= φ_c/(1 − ρ)
            t = mean_ci(ev[f"tail_{d}"][:, j] / b["c6"], fam.level)
            fam.add_upper(f"d = {d}, φ0 = {phi0:.4g}: C.6 E Σ_(l>=τ) φ_l / bound", t.estimate,
                          t.ci, 1.0)
            # C.7: P(φ_{l+1} > q φ_l) <= p on the first `window` steps after τ
            f = ev[f"fail_{d}"][:, j] / b["c7"]
            fe = mean_ci(f, fam.level) if np.ptp(f) > 0 else None
            fci = fe.ci if fe is not None else (float(f[0]), float(f[0]))
            fam.add_upper(f"d = {d}, φ0 = {phi0:.4g}: C.7 failure frequency / p", float(np.mean(f)),
                          fci, 1.0)
            fin = np.isfinite(tau)
            rows[f"{phi0:.4g}"] = {
                "mean_tau": float(np.mean(tau[fin])) if fin.any() else _BIG,
                "censored": int(np.sum(~fin)), "c5_bound": b["c5"][j],
                "mean_tail": float(np.mean(ev[f"tail_{d}"][:, j])), "c6_bound": b["c6"],
                "fail_frequency": float(np.mean(ev[f"fail_{d}"][:, j])), "c7_bound": b["c7"]}
        summary[str(d)] = rows
    what = (f"Lemmas C.5–C.7 (bn_lemmas.md §5, §7) on {cfg['weights']} chains X_(l+1) = "
            f"Bn(W_l X_l), n = d ∈ {cfg['widths']}, inputs φ0 ∈ {cfg['phi0_over_c']}·φ_c, φ_c = "
            f"1/(4d), depth {cfg['depth_over_d']}·d: (C.5) E τ <= (φ0 − φ_c)/b(φ_c), (C.6) "
            f"E Σ_(l>=τ) φ_l <= φ_c(d+2)(1+√d)²/2, (C.7) the frequency of φ_(l+1) > (1 − 1/(2k))"
            f"φ_l on the {cfg['window']} steps after τ is <= (2k−2)/(2k−1); statistic: mean / "
            f"bound, PASS when <= 1")
    return fam.verdict(fam.summary(what, fmt=_g), prediction=1.0, extra={"widths": summary})


def _rescale_to_bound(cfg, ev, key, which):
    out = dict(ev)
    for d in cfg["widths"]:
        b = _bounds(cfg, d)
        x = np.array(ev[f"{key}_{d}"], dtype=np.float64)
        for j in range(x.shape[1]):
            bound = b[which][j] if which == "c5" else b[which]
            col = x[:, j]
            fin = np.isfinite(col)
            m = float(np.mean(col[fin])) if fin.any() else 0.0
            if m > 0:
                x[:, j] = col * ((1.0 + cfg["delta"]) * bound / m)
        out[f"{key}_{d}"] = x
    return out


def ht_tau_over_by_delta(cfg, ev):
    """Mutation transform (C.5): the truth hits φ_c later than the bound allows — every input's
    hitting times rescaled so that their mean is (1 + δ) times C.5's bound (exactly calibrated,
    keeping the relative spread of the claim's own τ)."""
    return _rescale_to_bound(cfg, ev, "tau", "c5")


def ht_tail_over_by_delta(cfg, ev):
    """Mutation transform (C.6): the gap left after τ sums to (1 + δ) times C.6's bound (each
    input's tail sums rescaled, the claim's own random numbers)."""
    return _rescale_to_bound(cfg, ev, "tail", "c6")


def ht_plateau_after_hitting(cfg, ev):
    """Mutation transform (C.7): φ stops contracting once it is below φ_c (φ_l = φ_τ for
    l > τ, the plateau this library finds for n < d), recomputed through
    :func:`hitting_stats`: every step after τ is a failure."""
    out = dict(ev)
    for d in cfg["widths"]:
        P = np.array(ev[f"phi_{d}"], dtype=np.float64)
        tau, _, _ = hitting_stats(P, d, cfg["window"])
        lay = np.arange(P.shape[-1])
        t = np.where(np.isfinite(tau), tau, P.shape[-1]).astype(np.int64)
        frozen = np.take_along_axis(P, np.minimum(t, P.shape[-1] - 1)[..., None], axis=-1)
        P = np.where(lay > t[..., None], frozen, P)
        out[f"phi_{d}"] = P
        out[f"tau_{d}"], out[f"tail_{d}"], out[f"fail_{d}"] = hitting_stats(P, d, cfg["window"])
    return out
