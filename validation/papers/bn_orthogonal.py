"""Seed-001 claims: BN with Haar-orthogonal weights (Meterez et al., ICLR 2024, arXiv 2310.02012).

Source text: ``shared/seeds/001_d5049fc1e527e58d.txt`` (formulas stripped); formulas as restored
in ``shared/research/bn_orthogonal.md`` (section numbers "§" below refer to it; its tags [P]
paper, [S] secondary, [D] derived and checked, [U] unconfirmed). Predictions come from
:mod:`depthcheck.theory.bn_orthogonal` and :mod:`depthcheck.theory.isometry`, simulations from
:func:`depthcheck.kernels.chain.driver.simulate_chain` (deep chains, gradients in log scale), :mod:`depthcheck.kernels.random.haar`,
:mod:`depthcheck.kernels.nn.norms` and :mod:`depthcheck.kernels.random.moments`; image batches from
:mod:`depthcheck.kernels.data.images` (scikit-learn's bundled photos / digits, never a download).

Network (eq. 3): X_{l+1} = Bn(W_l X_l), Bn(X) = diag(X Xᵀ)^{-1/2} X (eq. 4), Haar W_l, linear
activation, n = d. Engine names: "rownorm" = the paper's Bn; "bn_nomean" = √n·Bn (the authors'
Fig. 3 code, factor √n); "bn" = standard centred BN without eps/affine (Fig. G6 "with mean
reduction"; also our stand-in for torch's BatchNorm1d at init in Fig. 5, see that claim).

Error budget: every claim here is ONE statement at level ALPHA (``extra["statements"] = 1``):
a claim that compares k intervals (layers, widths, activations, input matrices) gives each the
level ALPHA/k (Bonferroni), so its family-wise false-FAIL rate stays below ALPHA/2 (one-sided
use of two-sided intervals); ``extra["comparisons"] = k``. Deterministic claims (lemmas, exact
Jacobians) have no sampling error and are judged case by case against a rounding tolerance.

Claims (ids ``seed001.*``): isometry_decay (Thm 1, Fig. 1), isometry_plateau_n_lt_d (finding,
outside the theorem), bn_never_decreases_isometry (Lemma A.1 / Lemma 2),
bn_isometry_n_lt_d_finding (Lemma A.1 fails for n < d), one_step_rate (Thm 3), bounded_gradients
(Thm 5, Fig. 3), degenerate_input_explodes (Fig. 2), bounded_gradients_centred (Fig. G6),
bn_jacobian_bounds (Lemmas C.4, C.8–C.11), activation_shaping (Sec. 5, Fig. 5),
haar_sampler_moments (the engine's Haar sampler vs exact Weingarten moments).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from depthcheck.theory import bn_orthogonal as th
from depthcheck.theory.isometry import isometry_gap, row_normalize
from depthcheck.kernels.random.haar import sample_orthogonal, sample_stiefel
from depthcheck.kernels.nn.norms import norm_backward, norm_forward
from depthcheck.validation.claims.claim import Claim, Verdict
from depthcheck.kernels.data.images import image_batch
from depthcheck.validation.claims.stats import (combine_decisions, decide_lower, decide_upper, decide_within, mean_ci, slope_ci, t_quantile)

__all__ = ["CLAIMS", "fig1_input", "phi_floor", "gradient_curves"]

SEED = "001_d5049fc1e527e58d.txt"
_BIG = 1.7e308          # stands in for +inf in verdict intervals (results.json stays plain JSON)


# ====================================================================== shared helpers


def _chain_backend(backend: str) -> str:
    # Every chain of this module runs on the backend the run asked for; the engine registry
    # refuses by name what it cannot run (no fallback to numpy).
    return backend


def fig1_input(d: int, n: int, f: float, rng: np.random.Generator) -> np.ndarray:
    """The input of the authors' Fig. 1 notebook (§7.1): ``X0 = (1 − f) I + f u vᵀ`` with
    ``u ~ U[0,1]^d``, ``v ~ U[0,1]^n``; for n < d the first n columns of I. Shape ``(d, n)``."""
    u = rng.random(d)
    v = rng.random(n)
    return (1.0 - f) * np.eye(d)[:, :n] + f * np.outer(u, v)


def _input_rng(cfg: dict, *key) -> np.random.Generator:
    """The generator of a claim's fixed input: the same in every chunk (the paper draws its input
    once and reuses it for all runs), derived from ``cfg["input_seed"]`` and ``key``."""
    return np.random.default_rng([int(cfg["input_seed"])] + [int(k) for k in key])


def phi_floor(n: int) -> float:
    """A certified lower bound on φ(H) when ``depthcheck.theory.isometry.isometry_gap`` returns +inf.

    isometry_gap reports +inf when a Cholesky pivot of G = HᵀH (scaled to trace n) is below
    10·n·eps·G_kk <= 10 n² eps, or the factorisation fails; a pivot bounds λ_min(G) from above,
    so λ_min <= c n² eps with c = 10 (we allow c = 1000 for the rounding of G itself). With mean
    eigenvalue 1, φ = −(1/n) Σ log λ_i >= −(1/n) log λ_min − ((n−1)/n) log(n/(n−1)), hence
    φ >= (−log(1000 n² eps) − 1)/n. Used to turn +inf into a lower confidence limit: an
    infinite φ proves the mean is at least this large (never that it is small).
    """
    return max(0.0, (-math.log(1000.0 * n * n * np.finfo(np.float64).eps) - 1.0) / n)


def _mean_ci_inf(x, alpha, floor):
    """(estimate, (lo, hi)) of the mean of ``x`` where +inf entries are only known to be >=
    ``floor``: lo from the floor-substituted sample, hi = _BIG if any entry is infinite."""
    x = np.asarray(x, dtype=np.float64)
    inf = np.isinf(x)
    if not inf.any():
        e = mean_ci(x, alpha)
        return e.estimate, e.ci
    y = np.where(inf, floor, x)
    if np.all(y == y[0]):
        return float(y[0]), (float(y[0]), _BIG)
    e = mean_ci(y, alpha)
    return e.estimate, (e.ci[0], _BIG)


def _g(v) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if abs(v) >= _BIG:
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _family(parts, alpha, what, prediction=None, extra=None):
    """Verdict of a conjunction of k comparisons, each already judged at level alpha/k.

    ``parts``: dicts with name, decision, statistic, ci, prediction and margin (>= 0 on the
    claimed side; smaller = closer to failing). The reported statistic is the decisive part's: the
    most violated FAIL, else an INCONCLUSIVE one, else the part with the smallest margin.
    """
    verdict = combine_decisions([p["decision"] for p in parts])
    order = {"FAIL": 0, "INCONCLUSIVE": 1, "PASS": 2}
    key = min(parts, key=lambda p: (order[p["decision"]], p["margin"]))
    counts = {v: sum(p["decision"] == v for p in parts) for v in ("PASS", "INCONCLUSIVE", "FAIL")}
    detail = (f"{what}. {len(parts)} comparisons at level α/{len(parts)} each: "
              f"{counts['PASS']} PASS, {counts['INCONCLUSIVE']} INCONCLUSIVE, {counts['FAIL']} FAIL. "
              f"Decisive: {key['name']}: {_g(key['statistic'])} [{_g(key['ci'][0])}, "
              f"{_g(key['ci'][1])}] vs {_g(key['prediction'])} → {key['decision']}.")
    # keep results.json small: every part when few, else the non-PASS ones and the 8 tightest
    shown = parts if len(parts) <= 12 else (
        [p for p in parts if p["decision"] != "PASS"]
        + sorted((p for p in parts if p["decision"] == "PASS"), key=lambda p: p["margin"])[:8])
    ex = {"statements": 1, "comparisons": len(parts), "decisive": key["name"],
          "parts": [{k: p[k] for k in ("name", "decision", "statistic", "ci", "prediction")}
                    for p in shown[:40]]}
    ex.update(extra or {})
    ex = _json_safe(ex)
    return Verdict(verdict, key["statistic"], key["ci"],
                   key["prediction"] if prediction is None else prediction, alpha, detail, ex)


def _json_safe(obj):
    """Non-finite floats as the strings "inf"/"-inf"/"nan" (results.json stays strict JSON)."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        return str(float(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _clip(x) -> float:
    return float(np.clip(float(x), -_BIG, _BIG))


def _part(name, decision, statistic, ci, prediction, margin):
    return {"name": name, "decision": decision, "statistic": _clip(statistic),
            "ci": [_clip(ci[0]), _clip(ci[1])], "prediction": _clip(prediction),
            "margin": _clip(margin)}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, outdir, name):
    path = Path(outdir) / name
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


# =========================================================== claim 1: Theorem 1 (Fig. 1)
def _decay_widths(cfg):
    return [int(d) for d in cfg["widths"]] + [int(d) for d in cfg.get("info_widths", [])]


def _decay_layers(cfg):
    return np.arange(0, cfg["depth"] + 1, cfg["record_every"])


def _decay_predict(cfg):
    layers = _decay_layers(cfg)
    out = {}
    for d in _decay_widths(cfg):
        X0 = fig1_input(d, d, cfg["f"], _input_rng(cfg, d))
        phi0 = float(isometry_gap(X0))
        out[str(d)] = {"phi0": phi0, "k": float(th.theorem1_k(d, phi0, cfg["C"])),
                       "bound": th.theorem1_bound(layers, d, phi0, cfg["C"]).tolist()}
    return out


def _decay_simulate(cfg, rng, n_trials, backend):
    from depthcheck.kernels.chain.driver import simulate_chain
    ev = {}
    for d in _decay_widths(cfg):
        X0 = fig1_input(d, d, cfg["f"], _input_rng(cfg, d))
        o = simulate_chain(X0, cfg["depth"], trials=n_trials, rng=rng, weights=cfg["weights"],
                           norm="rownorm", record=("isometry_gap",),
                           record_every=cfg["record_every"], backend=_chain_backend(backend))
        ev[f"phi_{d}"] = o["isometry_gap"]
    return ev


def _decay_rate(layers, P, floor, alpha):
    """Per-trial log-linear fit of φ_l over the recorded layers l >= 1 where every trial is
    finite and the mean φ exceeds ``floor`` (float64 Cholesky noise sits near 1e-14)."""
    m = (layers >= 1) & np.all(np.isfinite(P), axis=0)
    m &= np.where(np.all(np.isfinite(P), axis=0), P.mean(axis=0), 0.0) > floor
    if m.sum() < 3 or P.shape[0] < 2:
        return None
    fit = slope_ci(layers[m], np.log(P[:, m]), alpha)
    return {"rate": -fit.slope.estimate, "ci": [-fit.slope.ci[1], -fit.slope.ci[0]],
            "se": fit.slope.se, "window": [int(layers[m][0]), int(layers[m][-1])]}


def _decay_judge(cfg, pred, ev, alpha):
    layers = _decay_layers(cfg)
    widths = [int(d) for d in cfg["widths"]]
    # judged layers: l >= 1 where the bound is above fit_floor (1e-11): φ's float64 resolution
    # is ~1e-14, so a bound below that cannot be checked (it would fail on rounding noise)
    judged_at = {d: (layers >= 1) & (np.asarray(pred[str(d)]["bound"]) >= cfg["fit_floor"])
                 for d in widths}
    k = int(sum(m.sum() for m in judged_at.values()))
    parts, per_width = [], {}
    for d in _decay_widths(cfg):
        P = ev[f"phi_{d}"]
        p = pred[str(d)]
        bound = np.asarray(p["bound"])
        floor = phi_floor(d)
        lo = np.empty(layers.size)
        hi = np.empty(layers.size)
        est = np.empty(layers.size)
        for j in range(layers.size):
            est[j], (lo[j], hi[j]) = _mean_ci_inf(P[:, j], alpha / k, floor)
            if d in widths and judged_at[d][j]:
                with np.errstate(over="ignore"):
                    ratio_ci = (lo[j] / bound[j], min(hi[j] / bound[j], _BIG))
                # margin: 1 − upper limit (1 − lower limit where φ = ∞ makes the upper one ∞)
                top = ratio_ci[1] if ratio_ci[1] < _BIG else ratio_ci[0]
                parts.append(_part(f"d={d}, layer {layers[j]}", decide_upper((lo[j], hi[j]),
                                   bound[j]), est[j] / bound[j], ratio_ci, 1.0, 1.0 - top))
        finite = np.all(np.isfinite(P), axis=0)
        mean = np.where(finite, np.where(finite, P, 0.0).mean(axis=0), np.inf)
        rate = _decay_rate(layers, P, cfg["fit_floor"], alpha)
        # smallest C over the resolvable layers (mean φ above fit_floor): below it, φ sits on
        # float64 rounding noise and would demand an ever larger C
        res = mean > cfg["fit_floor"]
        with np.errstate(divide="ignore", invalid="ignore"):
            c_point = th.theorem1_smallest_C(layers[res], mean[res], d, p["phi0"])
            c_data = th.theorem1_smallest_C(layers[res], np.maximum(lo[res], 1e-300), d,
                                            p["phi0"])
        per_width[str(d)] = {
            "phi0": p["phi0"], "k_theorem": p["k"], "judged": d in widths,
            "C_min_point": c_point, "C_min_consistent": c_data,
            "rate": rate, "k_empirical": (1.0 / rate["rate"]) if rate and rate["rate"] > 0 else None,
            "rate_small_gap_prediction": float(th.small_gap_decay_rate(d)),
            "rate_theorem_C": 1.0 / p["k"],
            "mean_phi_last": float(mean[-1]), "n_infinite": int(np.sum(~np.isfinite(P)))}
    # fitted exponent p of rate ∝ d^(-p) (report only)
    ws = [d for d in _decay_widths(cfg) if per_width[str(d)]["rate"] and
          per_width[str(d)]["rate"]["rate"] > 0]
    expo = None
    if len(ws) >= 2:
        x = np.log(np.asarray(ws, dtype=float))
        r = np.array([per_width[str(d)]["rate"]["rate"] for d in ws])
        se = np.array([per_width[str(d)]["rate"]["se"] for d in ws]) / r
        xc = x - x.mean()
        c = xc / (xc @ xc)
        slope = float(c @ np.log(r))
        s = float(np.sqrt(np.sum((c * se) ** 2)))
        z = t_quantile(alpha, 1e6)
        expo = {"p": -slope, "ci": [-slope - z * s, -slope + z * s], "widths": ws}
    rates = "; ".join(f"d={d}: rate {_g(v['rate']['rate'])}/layer [{_g(v['rate']['ci'][0])}, "
                      f"{_g(v['rate']['ci'][1])}] (derived small-φ rate −log(1−2/(d+2)) = "
                      f"{_g(v['rate_small_gap_prediction'])}; k_emp {_g(v['k_empirical'])} vs k_theorem "
                      f"{_g(v['k_theorem'])}), C_min {_g(v['C_min_point'])}"
                      for d, v in ((d, per_width[str(d)]) for d in _decay_widths(cfg))
                      if v["rate"])
    what = (f"E φ(X_l) <= φ0 e^(-(l-1)/k), k = C d²(1 + dφ0), C = {cfg['C']} ({cfg['weights']} "
            f"weights), statistic: mean φ_l / bound_l (claim: <= 1 at every recorded layer, "
            f"widths {widths}). Fitted decay {rates}"
            + (f"; rate ∝ d^-p with p = {_g(expo['p'])} [{_g(expo['ci'][0])}, "
               f"{_g(expo['ci'][1])}] (Theorem 1 guarantees a rate >= 1/k ∝ d^-2 (1 + dφ0)^-1; "
               f"p < 2 means the decay is faster than guaranteed and the d² in k is not tight)"
               if expo else ""))
    c_all = max(per_width[str(d)]["C_min_point"] for d in _decay_widths(cfg))
    what += (f". Smallest single C for all widths {_decay_widths(cfg)}: {_g(c_all)} (the "
             f"authors' C = {cfg['C']})")
    return _family(parts, alpha, what, prediction=1.0,
                   extra={"widths": per_width, "exponent": expo, "C": cfg["C"],
                          "C_min_all_widths": c_all})


def _decay_figure(cfg, res, ctrl, outdir):
    plt = _plt()
    layers = _decay_layers(cfg)
    ws = _decay_widths(cfg)
    fig, axes = plt.subplots(1, len(ws), figsize=(4.6 * len(ws), 4), squeeze=False)
    z = t_quantile(res.verdict.alpha, res.trials - 1)
    for a, d in enumerate(ws):
        ax = axes[0, a]
        for r, lab, col in ((res, "Haar (claim)", "C0"), (ctrl, "control", "C3")):
            if r is None:
                continue
            P = r.evidence[f"phi_{d}"]
            fin = np.all(np.isfinite(P), axis=0)
            m = np.where(fin, np.where(np.isfinite(P), P, 0).mean(0), np.nan)
            s = np.where(fin, np.where(np.isfinite(P), P, 0).std(0, ddof=1), np.nan) / np.sqrt(P.shape[0])
            ax.semilogy(layers, m, color=col, label=f"{lab}: {r.config['weights']} weights")
            ax.fill_between(layers, np.maximum(m - z * s, 1e-300), m + z * s, color=col, alpha=0.25)
            if not fin.all():
                ax.axvline(layers[np.argmin(fin)], color=col, ls=":", lw=0.8,
                           label=f"{lab}: φ = ∞ (numerical rank loss) from here")
        p = res.prediction[str(d)]
        ax.semilogy(layers, p["bound"], "k--", label=f"Thm 1 bound, C = {cfg['C']}")
        cmin = float(res.verdict.extra["widths"][str(d)]["C_min_point"])
        if math.isfinite(cmin) and cmin > 0:
            ax.semilogy(layers, th.theorem1_bound(layers, d, p["phi0"], cmin), "k:",
                        label=f"bound with fitted C_min = {cmin:.3g}")
        ax.set_ylim(max(1e-16, np.nanmin(res.evidence[f"phi_{d}"]) / 10), p["phi0"] * 3)
        ax.set_xlabel("layer l")
        ax.set_ylabel("isometry gap φ(X_l)")
        judged = "judged" if d in cfg["widths"] else "reported only"
        ax.set_title(f"d = n = {d} ({judged})", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle(f"seed 001 Fig. 1: isometry gap decay, mean ± CI (level 1−{res.verdict.alpha:g}) "
                 f"over {res.trials} chains — {res.verdict.verdict}", fontsize=9)
    return [_save(fig, outdir, "seed001_fig1_isometry_decay.png")]


ISOMETRY_DECAY = Claim(
    id="seed001.isometry_decay",
    title="Theorem 1: the isometry gap decays exponentially in depth",
    source=f"{SEED}, Theorem 1 and Figure 1 (research §3, §7.1)",
    statement=("For X_{l+1} = Bn(W_l X_l) with Haar W_l and n = d: E φ(X_{l+1}) <= φ(X_0) "
               "e^{-l/k}, k = C d²(1 + d φ(X_0)), φ(X) = −log(det(XᵀX)^{1/n}/(tr(XᵀX)/n)). "
               "C is an unspecified absolute constant [S formula, U constant]; we judge the "
               "bound with the authors' plotting constant C = 0.015 (§3.2) at every recorded "
               "layer l >= 1 where the bound exceeds 1e-11 (φ's float64 resolution is ~1e-14; "
               "re-indexed: E φ(X_l) <= φ0 e^{-(l-1)/k}) by one-sided upper "
               "confidence limits of the mean over chains (Bonferroni over widths × layers), "
               "and report the fitted decay rate per width, the smallest C consistent with the "
               "data and the exponent p of rate ∝ d^{-p}."),
    assumptions=("Input X0 = (1−f) I + f u vᵀ, f = 0.005, u, v ~ U[0,1]^d drawn once per width "
                 "from input_seed (the Fig. 1 notebook); paper's Bn (rownorm, no centring, no "
                 "1/n); Haar weights (Stewart's Householder construction); linear activation; "
                 "n = d. Judged widths 50, 100 (the authors' figure); d = 32 simulated and "
                 "reported only (there C = 0.015 gives k = 15 < d/2, and the bound is violated)."),
    quick={"trials": 30, "chunk": 15, "widths": [50, 100], "info_widths": [32], "depth": 150,
           "record_every": 5, "f": 0.005, "C": th.AUTHORS_PLOT_C, "input_seed": 1,
           "weights": "haar", "fit_floor": 1e-11, "allow_inf": ["phi_32", "phi_50", "phi_100"]},
    full={"trials": 30, "chunk": 5, "widths": [50, 100, 200], "info_widths": [32], "depth": 1000,
          "record_every": 10, "f": 0.005, "C": th.AUTHORS_PLOT_C, "input_seed": 1,
          "weights": "haar", "fit_floor": 1e-11,
          "allow_inf": ["phi_32", "phi_50", "phi_100", "phi_200"]},
    predict=_decay_predict, simulate=_decay_simulate, judge=_decay_judge,
    control={"weights": "gaussian"},
    control_description=("i.i.d. Gaussian weights N(0, 1/d): products of Gaussian matrices "
                         "lose rank numerically within a few layers, φ jumps to +inf "
                         "(certified >= phi_floor(n)), far above the bound."),
    figure=_decay_figure)


# ============================================ claim 2: n < d plateau (outside the theorem)
def _plateau_n(cfg):
    return int(round(cfg["d"] * cfg["n_over_d"]))


def _plateau_layers(cfg):
    return np.arange(0, cfg["depth"] + 1, cfg["record_every"])


def _plateau_simulate(cfg, rng, n_trials, backend):
    from depthcheck.kernels.chain.driver import simulate_chain
    d, n = cfg["d"], _plateau_n(cfg)
    X0 = fig1_input(d, n, cfg["f"], _input_rng(cfg, d, n))
    o = simulate_chain(X0, cfg["depth"], trials=n_trials, rng=rng, weights="haar",
                       norm="rownorm", record=("isometry_gap",), record_every=cfg["record_every"],
                       backend=_chain_backend(backend))
    return {"phi": o["isometry_gap"]}


def _plateau_judge(cfg, pred, ev, alpha):
    layers = _plateau_layers(cfg)
    P = ev["phi"]
    w = layers >= cfg["window_start"]
    n = _plateau_n(cfg)
    floor = phi_floor(n)
    late = np.where(np.isfinite(P[:, w]), P[:, w], floor).mean(axis=1)  # per-chain time average
    est = mean_ci(late, alpha / 2)
    parts = [_part(f"late mean φ (layers >= {cfg['window_start']})",
                   decide_lower(est.ci, cfg["threshold"]), est.estimate, est.ci,
                   cfg["threshold"], est.ci[0] / cfg["threshold"] - 1.0)]
    logP = np.log(np.clip(P[:, w], 1e-300, _BIG))
    fit = slope_ci(layers[w], logP, alpha / 2)
    b = cfg["band"]
    parts.append(_part("slope of log φ per layer in the window",
                       decide_within(fit.slope.ci, -b, b), fit.slope.estimate, fit.slope.ci, 0.0,
                       b - max(abs(fit.slope.ci[0]), abs(fit.slope.ci[1]))))
    what = (f"d = {cfg['d']}, n = {n} (n {'<' if n < cfg['d'] else '='} d): claim "
            f"φ does not decay to 0 but plateaus — late mean φ >= {cfg['threshold']} and slope of "
            f"log φ within ±{b}/layer. THIS IS OUTSIDE THEOREM 1, which assumes n = d; a finding "
            f"of this library, not a statement of the paper")
    return _family(parts, alpha, what, prediction=cfg["threshold"],
                   extra={"late_mean_phi": est.estimate, "slope_log_phi": fit.slope.estimate,
                          "mean_phi_curve": np.where(np.isfinite(P), P, np.nan).mean(0).tolist()})


def _plateau_figure(cfg, res, ctrl, outdir):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r, col in ((res, "C0"), (ctrl, "C3")):
        if r is None:
            continue
        layers = _plateau_layers(r.config)
        P = r.evidence["phi"]
        m, s = P.mean(0), P.std(0, ddof=1)
        ax.semilogy(layers, m, color=col, label=f"d = {r.config['d']}, n = {_plateau_n(r.config)}"
                    + (" (claim)" if not r.control else " (control, n = d)"))
        ax.fill_between(layers, np.maximum(m - s, 1e-300), m + s, color=col, alpha=0.2)
    ax.axhline(cfg["threshold"], color="k", ls=":", label=f"threshold {cfg['threshold']}")
    ax.axvline(cfg["window_start"], color="grey", lw=0.6)
    ax.set_xlabel("layer l")
    ax.set_ylabel("isometry gap φ(X_l) (mean ± sd)")
    ax.set_title(f"n < d: φ plateaus (outside Thm 1's n = d) — {res.verdict.verdict}", fontsize=9)
    ax.legend(fontsize=7)
    return [_save(fig, outdir, "seed001_plateau_n_lt_d.png")]


ISOMETRY_PLATEAU = Claim(
    id="seed001.isometry_plateau_n_lt_d",
    title="Finding (outside Thm 1): for n < d the isometry gap plateaus instead of decaying",
    source=f"{SEED}, Theorem 1's assumption n = d (research §1.1); finding of this library",
    statement=("For batch size n < width d, the chain X_{l+1} = Bn(W_l X_l) with Haar W_l does "
               "NOT drive φ(X_l) to 0: after a short transient φ fluctuates around a positive "
               "level (≈ 0.09 for n/d = 1/2). Judged: per-chain time average of φ over layers >= "
               "window_start has a lower confidence limit above 1e-3, and the per-chain slope of "
               "log φ over that window lies within ±0.002 per layer (the n = d decay rate at "
               "d = 32 is 0.06 per layer)."),
    assumptions=("Theorem 1 assumes n = d, so this is not a test of the paper; it shows what "
                 "happens outside its assumptions. n = d/2: d = 32 (quick), 64 (full). Input: "
                 "first n columns of the Fig. 1 input ((1−f) I + f u vᵀ, f = 0.005); rownorm Bn; "
                 "Haar weights; linear activation."),
    quick={"trials": 30, "chunk": 15, "d": 32, "n_over_d": 0.5, "depth": 300,
           "record_every": 5, "window_start": 150, "threshold": 1e-3, "band": 0.002, "f": 0.005,
           "input_seed": 2},
    full={"trials": 30, "chunk": 10, "d": 64, "n_over_d": 0.5, "depth": 1000,
          "record_every": 10, "window_start": 300, "threshold": 1e-3, "band": 0.001, "f": 0.005,
          "input_seed": 2},
    predict=lambda cfg: cfg["threshold"], simulate=_plateau_simulate, judge=_plateau_judge,
    control={"n_over_d": 1.0},
    control_description=("n = d (the theorem's setting): φ decays at ≈ 2/d per layer (late "
                         "mean ~1e-9 at d = 32, slope of log φ ≈ −0.06/layer): both statements "
                         "FAIL."),
    figure=_plateau_figure)


# ======================================================= claim 3: Lemma A.1 / Lemma 2
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


def _lemma_simulate(cfg, rng, n_trials, backend):
    out = {}
    c = cfg["cases"]
    for d in cfg["sizes"]:
        shape = (n_trials, len(_LEMMA_KINDS), c)
        lem, ide, rnd_l, rnd_i = (np.empty(shape) for _ in range(4))
        for t in range(n_trials):
            for j, kind in enumerate(_LEMMA_KINDS):
                H = _lemma_cases(kind, c, d, d, rng)
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
                # exact identity (Lemma A.1 [D]): φ(H) − φ(Bn(H)) = log AM(a)/GM(a)
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
    parts = []
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
        parts.append(_part(f"d = n = {d}: min of [log I(op(WH)) − log I(H)] / tolerance",
                           "PASS" if worst_l >= -1 else "FAIL", worst_l, (worst_l, worst_l),
                           -1.0, worst_l + 1.0))
        parts.append(_part(f"d = n = {d}: max |log I(op(H)) − log I(H) − log AM(a)/GM(a)| / "
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
            f"outputs, Fig. 1 input; cond(H) <= 1e6), square H; deterministic, each case against "
            f"its tolerance {tol:g} + n·eps·cond² of the φ values involved (statistic in units "
            f"of that tolerance)")
    return _family(parts, alpha, what, extra={"by_size": summary, "tol": tol})


def _lemma_inf_keys(sizes):
    # the control's anti-normalised matrices can be numerically singular (φ = ∞)
    return [f"{k}_{d}" for d in sizes for k in ("lemma_margin", "identity_error")]


def _lemma_figure(cfg, res, ctrl, outdir):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for r, col, off in ((res, "C0", -0.15), (ctrl, "C3", 0.15)):
        if r is None:
            continue
        for d in r.config["sizes"]:
            lem = r.evidence[f"lemma_margin_{d}"]
            for j in range(len(_LEMMA_KINDS)):
                y = lem[:, j].ravel()
                ax.scatter(np.full(y.size, j + off), np.sign(y) * np.log10(1 + np.abs(y) * 1e12),
                           s=3, color=col, alpha=0.3)
        ax.scatter([], [], color=col, label=f"{'control' if r.control else 'claim'}: "
                                            f"operator {r.config['operator']}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(_LEMMA_KINDS)), _LEMMA_KINDS, rotation=30, fontsize=7)
    ax.set_ylabel("sign·log10(1 + 1e12·|log I(op(WH)) − log I(H)|)")
    ax.set_title(f"Lemma 2 / A.1: Bn never decreases isometry (n = d) — {res.verdict.verdict}",
                 fontsize=9)
    ax.legend(fontsize=7)
    return [_save(fig, outdir, "seed001_lemma_a1.png")]


BN_NEVER_DECREASES = Claim(
    id="seed001.bn_never_decreases_isometry",
    title="Lemma A.1 / Lemma 2: rotation + Bn never decreases isometry (n = d)",
    source=f"{SEED}, Lemma A.1 (= Joudaki et al. 2023a, Cor. 3) and Lemma 2 (research §2.3–2.4)",
    statement=("For square non-degenerate H and orthogonal W: I(Bn(W H)) >= I(H), I(X) = "
               "det(XᵀX)^{1/n}/(tr(XᵀX)/n). The paper's printed refined factor is [U]; we check "
               "the minimal content I(Bn(WH)) >= I(H) and the exact identity [D] "
               "I(Bn(H)) = I(H)·AM(a)/GM(a), a_i = ||h_i||², to rounding (tolerance 1e-8 on "
               "log I) on random and adversarial inputs."),
    assumptions=("n = d (the lemma is FALSE for n < d: see seed001.bn_isometry_n_lt_d_finding); "
                 "H non-degenerate (condition numbers ≲ 1e6 so that float64 log det is "
                 "accurate); W Haar (Lemma 2 holds for every orthogonal W)."),
    quick={"trials": 2, "chunk": 1, "sizes": [2, 5, 16], "cases": 50, "operator": "bn",
           "tol": 1e-8, "allow_inf": _lemma_inf_keys([2, 5, 16])},
    full={"trials": 8, "chunk": 2, "sizes": [2, 5, 16, 64], "cases": 200, "operator": "bn",
          "tol": 1e-8, "allow_inf": _lemma_inf_keys([2, 5, 16, 64])},
    predict=lambda cfg: 0.0, simulate=_lemma_simulate, judge=_lemma_judge,
    control={"operator": "antinorm"},
    control_description=("anti-normalisation diag(a)^{1/2} H (rows multiplied by their norms): "
                         "I changes by GM(a)·mean(a)/mean(a²) < 1 whenever row norms vary, so "
                         "both the inequality and the identity FAIL."),
    figure=_lemma_figure)


# ====================================================== claim 3b: n < d counterexamples
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


BN_N_LT_D_FINDING = Claim(
    id="seed001.bn_isometry_n_lt_d_finding",
    title="Finding: for n < d, Bn CAN decrease isometry (Lemma A.1 needs n = d)",
    source=f"{SEED}, Lemma A.1 (research §2.3, identity valid for square H only); finding of "
           f"this library",
    statement=("For tall H (d > n), I(Bn(H)) < I(H) happens: e.g. H = [[1,0],[0,s],[0,s]], "
               "s = 1/√2 has I(H) = 1 and I(Bn(H)) = √2/1.5 ≈ 0.943; any H with orthonormal "
               "columns and unequal row norms has I(H) = 1 > I(Bn(H)). The claim PASSes when a "
               "decrease beyond rounding (1e-10 on log I) is found."),
    assumptions=("Outside the paper's assumption n = d; random Gaussian H with log-normal row "
                 "scales and uniform Stiefel frames (orthonormal columns), shapes 3×2 and 8×4."),
    quick={"trials": 2, "chunk": 1, "shapes": [[3, 2], [8, 4]], "cases": 500, "tol": 1e-10},
    full={"trials": 4, "chunk": 1, "shapes": [[3, 2], [8, 4], [16, 8]], "cases": 5000,
          "tol": 1e-10},
    predict=lambda cfg: -cfg["tol"], simulate=_finding_simulate, judge=_finding_judge,
    control={"shapes": [[3, 3], [8, 8]]},
    control_description=("square H (n = d), where Lemma A.1 holds: no case decreases (Stiefel "
                         "frames are orthogonal with equal row norms: ratio exactly 1), so the "
                         "finding FAILs."))


# ========================================================= claim 4: Theorem 3 (one step)
_T3_INPUTS = ("bn_gaussian", "fig1", "correlated")


def _t3_inputs(cfg):
    """The fixed unit-row-norm inputs X (d × d) of the Theorem 3 check, plus an orthogonal one."""
    d = cfg["d"]
    r = _input_rng(cfg, d)
    X = {"bn_gaussian": row_normalize(r.standard_normal((d, d))),
         "fig1": row_normalize(fig1_input(d, d, 0.005, r)),
         "correlated": row_normalize(fig1_input(d, d, 0.5, r))}
    Q = sample_orthogonal((), d, r)
    return X, Q


def _t3_predict(cfg):
    X, _ = _t3_inputs(cfg)
    out = {}
    for name in _T3_INPUTS:
        lam = np.linalg.eigvalsh(X[name] @ X[name].T)
        lam = lam * (cfg["d"] / lam.sum())
        out[name] = {"second_moment": float(th.theorem3_second_moment(lam)),
                     "second_moment_gaussian": float(th.theorem3_second_moment_gaussian(lam)),
                     "ratio_lower_bound": float(th.theorem3_ratio_lower_bound(lam)),
                     "phi": float(isometry_gap(X[name]))}
    return out


def _t3_weights(cfg, rng, B):
    d = cfg["d"]
    if cfg["weights"] == "haar":
        return sample_orthogonal((B,), d, rng)
    return rng.standard_normal((B, d, d)) / math.sqrt(d)


def _t3_simulate(cfg, rng, n_trials, backend):
    X, Q = _t3_inputs(cfg)
    W = _t3_weights(cfg, rng, n_trials)
    ev = {}
    for name in _T3_INPUTS:
        WX = W @ X[name]
        a = np.sum(WX * WX, axis=-1)
        ev[f"m2_{name}"] = np.mean(a * a, axis=-1)
        ev[f"ratio_{name}"] = np.exp(isometry_gap(X[name]) - isometry_gap(row_normalize(WX)))
    ev["ratio_orthogonal"] = np.exp(isometry_gap(Q) - isometry_gap(row_normalize(W @ Q)))
    return ev


def _t3_judge(cfg, pred, ev, alpha):
    k = 2 * len(_T3_INPUTS) + 1
    band = cfg["band"]
    parts = []
    for name in _T3_INPUTS:
        p = pred[name]
        e = mean_ci(ev[f"m2_{name}"], alpha / k)
        rel = (e.estimate / p["second_moment"], (e.ci[0] / p["second_moment"],
                                                 e.ci[1] / p["second_moment"]))
        parts.append(_part(f"{name}: E(1/d)Σa² / exact", decide_within(rel[1], 1 - band, 1 + band),
                           rel[0], rel[1], 1.0, band - max(abs(rel[1][0] - 1), abs(rel[1][1] - 1))))
        r = mean_ci(ev[f"ratio_{name}"], alpha / k)
        parts.append(_part(f"{name}: E I(Bn(WX))/I(X) vs lower bound",
                           decide_lower(r.ci, p["ratio_lower_bound"]), r.estimate, r.ci,
                           p["ratio_lower_bound"], r.ci[0] - p["ratio_lower_bound"]))
    dev = float(np.max(np.abs(ev["ratio_orthogonal"] - 1.0)))
    parts.append(_part("orthogonal X: max |ratio − 1| (equality case)",
                       "PASS" if dev <= cfg["tol"] else "FAIL", dev, (dev, dev), 0.0,
                       cfg["tol"] - dev))
    summary = {name: {"mean_ratio": float(np.mean(ev[f"ratio_{name}"])),
                      "mean_second_moment": float(np.mean(ev[f"m2_{name}"])), **pred[name]}
               for name in _T3_INPUTS}
    what = (f"Theorem 3 with {cfg['weights']} W (d = n = {cfg['d']}): exact Haar second moment "
            f"E[(1/d)Σa_i²] = (d² + 2Σλ²)/(d(d+2)) within ±{band:.0%}, Monte Carlo ratio "
            f"E I(Bn(WX))/I(X) >= our derived lower bound 1/(1 − δ/(2(1+√d)²))², δ = "
            f"2Σ(λ−1)²/(d(d+2)), and ratio ≡ 1 for orthogonal X (tolerance {cfg['tol']})")
    return _family(parts, alpha, what, extra={"inputs": summary})


def _t3_figure(cfg, res, ctrl, outdir):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    names = list(_T3_INPUTS)
    x = np.arange(len(names))
    for r, col, off in ((res, "C0", -0.12), (ctrl, "C3", 0.12)):
        if r is None:
            continue
        lab = f"{r.config['weights']} W ({'control' if r.control else 'claim'})"
        for ax, key, pk in ((axes[0], "ratio", "ratio_lower_bound"),
                            (axes[1], "m2", "second_moment")):
            m = np.array([r.evidence[f"{key}_{n}"].mean() for n in names])
            s = np.array([r.evidence[f"{key}_{n}"].std(ddof=1) for n in names]) / math.sqrt(r.trials)
            z = t_quantile(r.verdict.alpha / (2 * len(names) + 1), r.trials - 1)
            ax.errorbar(x + off, m - 1, yerr=z * s, fmt="o", color=col, capsize=3, label=lab)
    p = res.prediction
    axes[0].scatter(x, [p[n]["ratio_lower_bound"] - 1 for n in names], marker="_", s=400,
                    color="k", label="derived lower bound − 1")
    axes[1].scatter(x, [p[n]["second_moment"] - 1 for n in names], marker="_", s=400, color="k",
                    label="exact Haar value − 1")
    axes[1].scatter(x, [p[n]["second_moment_gaussian"] - 1 for n in names], marker="_", s=400,
                    color="C3", label="Gaussian-W value − 1")
    for ax, t in ((axes[0], "E_W I(Bn(WX)) / I(X) − 1"), (axes[1], "E (1/d)Σ a_i² − 1")):
        ax.set_xticks(x, names)
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_ylabel(t)
        ax.legend(fontsize=7)
    fig.suptitle(f"Theorem 3, d = n = {cfg['d']}, {res.trials} draws of W, CI at the claim's "
                 f"level — {res.verdict.verdict}", fontsize=9)
    return [_save(fig, outdir, "seed001_theorem3_one_step.png")]


ONE_STEP_RATE = Claim(
    id="seed001.one_step_rate",
    title="Theorem 3: one Bn step increases isometry in expectation (Weingarten rate)",
    source=f"{SEED}, Theorem 3 (= A.4) and its proof (research §4.1, §4.3)",
    statement=("For X with unit-norm rows (n = d), λ the eigenvalues of X Xᵀ (Σλ = d) and a_i = "
               "||e_iᵀ W X||², W Haar: E[(1/d)Σ a_i²] = (d² + 2Σλ²)/(d(d+2)) exactly [D]; the "
               "paper's factor f(λ) in E I(Bn(WX)) >= (1 + f(λ)) I(X) is [U], so we check our "
               "derived lower bound E I(Bn(WX))/I(X) >= 1/(1 − δ/(2(1+√d)²))², δ = "
               "2Σ(λ−1)²/(d(d+2)) (depthcheck.theory.bn_orthogonal.theorem3_ratio_lower_bound), and "
               "equality (ratio exactly 1) for orthogonal X."),
    assumptions=("Three fixed non-orthogonal inputs (Bn of a Gaussian matrix, Bn of the Fig. 1 "
                 "input with f = 0.005, Bn of (1−f)I + f u vᵀ with f = 0.5) and one Haar "
                 "orthogonal matrix, drawn once from input_seed; d = n = 32 (quick), 64 (full)."),
    quick={"trials": 8000, "chunk": 2000, "d": 16, "band": 0.02, "tol": 1e-9,
           "weights": "haar", "input_seed": 3},
    full={"trials": 80000, "chunk": 10000, "d": 32, "band": 0.01, "tol": 1e-9,
          "weights": "haar", "input_seed": 3},
    predict=_t3_predict, simulate=_t3_simulate, judge=_t3_judge,
    control={"weights": "gaussian"},
    control_description=("Gaussian W with N(0, 1/d) entries: E[(1/d)Σa²] = (d² + 2Σλ²)/d², "
                         "a factor (d+2)/d above the Haar value (6% at d = 32), and the ratio "
                         "is no longer 1 for orthogonal X: the claim FAILs."),
    figure=_t3_figure)


# ==================================================== gradient claims (Figs. 2, 3, 5, G6)
def _gains(arm, depth):
    """Per-chain-layer gains: the authors' code uses g = (l+1)^(-r) at its layer l = 0..L-1
    (§6.2); chain layer j = 1..L-1 is code layer j, so g_j = (j+1)^(-r)."""
    r = float(arm.get("gain_exponent", 0.0))
    return (np.arange(1, depth + 1, dtype=np.float64) + 1.0) ** (-r)


def _grad_input(cfg, rng, n_trials, arm):
    """Chain input X_0 = act(norm(fc_0 x)) per trial, with fc_0 a Haar semi-orthogonal d × p
    map (Gaussian N(0, 2/(p+d)) = xavier-normal for Gaussian weights) of the fixed image batch."""
    from depthcheck.kernels.nn.activations import activation_forward
    batch = image_batch(cfg["n"], np.random.default_rng([cfg["data_seed"], 0]),
                        source=cfg["source"], repeat=cfg["repeat"])
    p, d = batch.shape[0], cfg["d"]
    if cfg["weights"] == "haar":
        F = np.swapaxes(sample_stiefel((n_trials,), p, d, rng), -1, -2)
    else:
        F = rng.standard_normal((n_trials, d, p)) * math.sqrt(2.0 / (p + d))
    X0, _ = norm_forward(cfg["norm"], F @ batch)
    return activation_forward(arm["activation"], X0)


def gradient_curves(cfg, rng, n_trials, backend="numpy"):
    """E log ||∇_{W_1} L||_F for networks of each depth in ``cfg["depths"]`` (Fig. 3 protocol).

    A network of depth L (the authors' ``num_layers``) is fc_0 (p → d), L − 1 square layers
    fc_1..fc_{L−1}, each followed by norm (and gain·activation), and a semi-orthogonal readout
    fc_L (d → n_out), cross-entropy on fixed random labels. ∇_{W_1} is the gradient at fc_1, the
    first d × d layer (the authors' ``fc_1.weight``). The depths of one trial share their
    weights (nested networks: the first layers of the deepest net are the shallower nets'),
    which only correlates the points of one curve (the slope is judged per trial).
    Returns {"log_grad_{i}": (n_trials, n_depths)} for each arm i of ``cfg["arms"]``.
    """
    from depthcheck.kernels.chain.driver import simulate_chain
    labels = np.random.default_rng([cfg["data_seed"], 1]).integers(0, cfg["n_out"], cfg["n"])
    out = {}
    for i, arm in enumerate(cfg["arms"]):
        X0 = _grad_input(cfg, rng, n_trials, arm)
        seed = int(rng.integers(0, 2**62))
        G = np.empty((n_trials, len(cfg["depths"])))
        for j, L in enumerate(cfg["depths"]):
            depth = int(L) - 1
            o = simulate_chain(X0, depth, trials=n_trials, rng=np.random.default_rng(seed),
                               weights=cfg["weights"], norm=cfg["norm"],
                               activation=arm["activation"], order="norm_act",
                               gains=_gains(arm, depth), record=(), record_every=depth,
                               gradients=True, labels=labels, n_out=cfg["n_out"],
                               backend=_chain_backend(backend))
            G[:, j] = o["log_grad_norm"][:, 0]
        out[f"log_grad_{i}"] = G
    return out


_grad_simulate = gradient_curves


def _arm_name(arm):
    r = float(arm.get("gain_exponent", 0.0))
    return arm["activation"] + (f", gain (l+1)^-{r:g}" if r else "")


def _grad_judge(cfg, pred, ev, alpha):
    x = np.asarray(cfg["depths"], dtype=float)
    w = x >= cfg["window_start"]
    b = cfg["band"]
    k = len(cfg["arms"])
    parts, info = [], {}
    for i, arm in enumerate(cfg["arms"]):
        G = ev[f"log_grad_{i}"]
        fit = slope_ci(x[w], G[:, w], alpha / k)
        full = slope_ci(x, G, alpha / k)
        s = fit.slope
        if cfg["mode"] == "bounded":
            dec = decide_within(s.ci, -b, b)
            margin = b - max(abs(s.ci[0]), abs(s.ci[1]))
            pr = 0.0
        else:
            dec = decide_lower(s.ci, b)
            margin = s.ci[0] - b
            pr = b
        name = _arm_name(arm)
        parts.append(_part(f"{name}: slope of E log||∇W_1|| per layer, depths >= "
                           f"{cfg['window_start']}", dec, s.estimate, s.ci, pr, margin))
        info[name] = {"slope_window": s.estimate, "slope_window_ci": list(s.ci),
                      "slope_all_depths": full.slope.estimate,
                      "slope_all_depths_ci": list(full.slope.ci),
                      "mean_log_grad": G.mean(axis=0).tolist(),
                      "sd_log_grad": G.std(axis=0, ddof=1).tolist()}
    claim = ("bounded: slope within ±" if cfg["mode"] == "bounded" else "explodes: slope >= ")
    what = (f"{cfg['weights']} weights, norm {cfg['norm']!r}, d = {cfg['d']}, n = {cfg['n']} "
            f"({cfg['source']} batch" + (f", each image repeated {cfg['repeat']}×" if
                                         cfg["repeat"] > 1 else "") + f"), depths "
            f"{cfg['depths']}; judged on depths >= {cfg['window_start']} (earlier depths are the "
            f"transient while φ falls from φ(X0)); {claim}{b} nats/layer. Slopes: "
            + "; ".join(f"{n}: {v['slope_window']:.4g} [{v['slope_window_ci'][0]:.4g}, "
                        f"{v['slope_window_ci'][1]:.4g}] (all depths {v['slope_all_depths']:.4g})"
                        for n, v in info.items()))
    return _family(parts, alpha, what, extra={"arms": info, "band": b, "depths": cfg["depths"]})


def _grad_figure_factory(fname, title):
    def figure(cfg, res, ctrl, outdir):
        plt = _plt()
        arms = cfg["arms"]
        fig, axes = plt.subplots(1, len(arms), figsize=(max(7.5, 5.2 * len(arms)), 4),
                                 squeeze=False)
        for i in range(len(arms)):
            ax = axes[0, i]
            for r, col in ((res, "C0"), (ctrl, "C3")):
                if r is None:
                    continue
                x = np.asarray(r.config["depths"], dtype=float)
                G = r.evidence[f"log_grad_{i}"]
                m = G.mean(axis=0)
                s = G.std(axis=0, ddof=1) / math.sqrt(G.shape[0])
                z = t_quantile(r.verdict.alpha / len(arms), G.shape[0] - 1)
                arm = r.config["arms"][i]
                lab = (f"{'control' if r.control else 'claim'}: {r.config['weights']}, "
                       f"{r.config['norm']}, {_arm_name(arm)}"
                       + (f", repeat {r.config['repeat']}" if r.config["repeat"] > 1 else ""))
                ax.plot(x, m, "o-", color=col, label=lab)
                ax.fill_between(x, m - z * s, m + z * s, color=col, alpha=0.25)
                sl = r.verdict.extra["arms"][_arm_name(arm)]["slope_window"]
                w = x >= r.config["window_start"]
                xm = x[w]
                ax.plot(xm, m[w].mean() + sl * (xm - xm.mean()), "--", color=col, lw=0.8,
                        label=f"fitted slope {sl:.3g}/layer")
            ax.axvline(cfg["window_start"], color="grey", lw=0.6)
            ax.set_xscale("log")
            ax.set_xlabel("depth L")
            ax.set_ylabel("log ||∇_{W_1} L||_F (mean, CI band)")
            ax.legend(fontsize=6)
        fig.suptitle(f"{title} — {res.verdict.verdict} (d = {cfg['d']}, n = {cfg['n']}, "
                     f"{res.trials} trials)", fontsize=9)
        return [_save(fig, outdir, fname)]
    return figure


_GRAD_QUICK = {"trials": 30, "chunk": 15, "d": 32, "n": 32, "source": "photos", "data_seed": 7,
               "depths": [5, 10, 20, 50, 100, 200, 400], "window_start": 100, "n_out": 10,
               "weights": "haar", "norm": "bn_nomean", "repeat": 1,
               "arms": [{"activation": "identity", "gain_exponent": 0.0}],
               "mode": "bounded", "band": 0.002}
_GRAD_FULL = dict(_GRAD_QUICK, trials=30, chunk=5, d=100, n=100,
                  depths=[5, 10, 20, 50, 100, 200, 500, 1000], window_start=500, band=0.0006)

_GRAD_ASSUMPTIONS = (
    "Input: one fixed batch of n real images (depthcheck.kernels.data.images: 32×32 RGB crops of "
    "scikit-learn's bundled photos, 3072 features, per-channel standardised; the paper used a "
    "CIFAR-10 batch), projected per trial by fc_0 (Haar semi-orthogonal d × 3072) and normalised; "
    "random labels (10 classes, fixed); loss: mean cross-entropy after a semi-orthogonal readout "
    "d → 10; identity activation; no biases; gradient at fc_1 (first d × d layer), "
    "Frobenius norm, natural log. Quick: d = n = 32, depths 5..400 (the transient lasts longer "
    "at d = n = 100, which full mode runs with depths 5..1000 as in the paper).")

BOUNDED_GRADIENTS = Claim(
    id="seed001.bounded_gradients",
    title="Theorem 5 / Fig. 3: gradients stay bounded in depth with Haar weights and BN",
    source=f"{SEED}, Theorem 5 (= C.1) and Figure 3 (research §5.1, §7.3)",
    statement=("E log ||∇_{W_1} L||_F <= C d⁵(φ(X_0)³ + 1) for every depth (Theorem 5 [S]); "
               "the constant is unknown, so we test the consequence the paper plots: beyond a "
               "transient, E log||∇_{W_1}L|| does not grow with depth. Judged: per-trial OLS "
               "slope of log||∇_{W_1}L|| against depth L over L >= window_start lies in an "
               "equivalence band: quick (d = 32, L >= 100) ±0.002 nats/layer, about 1/9 of the "
               "Gaussian control's measured growth rate 0.018/layer; full (d = 100, L ∈ {500, "
               "1000}, after the transient that ends near L ≈ 500 at this width) ±0.0006, about "
               "1/18 of the Gaussian rate 0.011/layer measured at d = 100."),
    assumptions=_GRAD_ASSUMPTIONS + " Norm: √n·Bn ('bn_nomean', the Fig. 3 code's factor √n).",
    quick=_GRAD_QUICK, full=_GRAD_FULL,
    predict=lambda cfg: 0.0, simulate=_grad_simulate, judge=_grad_judge,
    control={"weights": "gaussian"},
    control_description=("xavier-normal Gaussian weights (entries N(0, 1/d) in the square "
                         "layers, N(0, 2/(3072+d)) in fc_0): log||∇W_1|| grows linearly in "
                         "depth (≈ 0.018/layer at d = 32), far outside the band."),
    figure=_grad_figure_factory("seed001_fig3_bounded_gradients.png",
                                "seed 001 Fig. 3: Haar (claim) vs Gaussian (control) weights"))

DEGENERATE_EXPLODES = Claim(
    id="seed001.degenerate_input_explodes",
    title="Fig. 2: a batch with repeated samples makes gradients explode exponentially",
    source=f"{SEED}, Figure 2 and App. G.2; Theorem 5's bound is vacuous for φ(X_0) = ∞ "
           f"(research §5.1, §7.2)",
    statement=("With repeated samples in the batch (φ(X_0) = ∞), log||∇_{W_1}L|| grows "
               "linearly in depth: the per-trial slope over depths >= window_start is at least "
               "the band edge 0.002 nats/layer (the bound of seed001.bounded_gradients) with "
               "its lower confidence limit."),
    assumptions=(_GRAD_ASSUMPTIONS + " Degenerate batch: n/2 distinct crops, each appearing "
                 "twice (rank n/2). Fig. 2's exact n, depths and repeat pattern are [U]; we use "
                 "the Fig. 3 pipeline (√n·Bn, Haar) with duplicated columns."),
    quick=dict(_GRAD_QUICK, repeat=2, mode="explodes"),
    full=dict(_GRAD_FULL, repeat=2, mode="explodes"),
    predict=lambda cfg: cfg["band"], simulate=_grad_simulate, judge=_grad_judge,
    control={"repeat": 1},
    control_description=("the same pipeline on a batch without repeats: gradients stay "
                         "bounded, the slope's upper confidence limit is below the band edge."),
    figure=_grad_figure_factory("seed001_fig2_degenerate_batch.png",
                                "seed 001 Fig. 2: repeated samples (claim) vs distinct (control)"))

BOUNDED_CENTRED = Claim(
    id="seed001.bounded_gradients_centred",
    title="Fig. G6: gradients stay bounded with standard (mean-reducing) BN too",
    source=f"{SEED}, Sec. 3 remark, App. G.3 and Figure G6 (research §1.4, §7.8)",
    statement=("With standard BN (centring and division by the batch standard deviation) "
               "instead of the paper's Bn, E log||∇_{W_1}L|| is still bounded in depth: slope "
               "over depths >= window_start within the bands of seed001.bounded_gradients "
               "(±0.002 nats/layer quick, ±0.0006 full)."),
    assumptions=(_GRAD_ASSUMPTIONS + " Norm 'bn' (centred, biased std, no eps, no affine) also "
                 "on fc_0's output. Fig. G6 plots the gradient at fc_0; the chain engine gives "
                 "it at fc_1, which we use. Note: centring makes every X_l rank n − 1 (φ = ∞ in "
                 "the paper's sense), outside Theorem 5's assumptions — yet bounded."),
    quick=dict(_GRAD_QUICK, norm="bn"), full=dict(_GRAD_FULL, norm="bn"),
    predict=lambda cfg: 0.0, simulate=_grad_simulate, judge=_grad_judge,
    control={"weights": "gaussian"},
    control_description="xavier-normal Gaussian weights with the same centred BN: linear growth.",
    figure=_grad_figure_factory("seed001_figG6_centred_bn.png",
                                "seed 001 Fig. G6: centred BN, Haar (claim) vs Gaussian (control)"))

ACTIVATION_SHAPING = Claim(
    id="seed001.activation_shaping",
    title="Sec. 5 / Fig. 5: gain l^-0.4 before tanh/sin keeps gradients bounded",
    source=f"{SEED}, Section 5 (eq. 11), App. E and Figure 5 (research §6, §7.5)",
    statement=("X_{l+1} = σ(α_l Bn(W_l X_l)), σ ∈ {tanh, sin}, α_l = (l+1)^{-0.4} (the authors' "
               "code indexing, §6.2): E log||∇_{W_1}L|| bounded in depth — slope over depths >= "
               "window_start within ±0.004 nats/layer (quick; ≈ 1/20 of the unshaped rates "
               "0.088 (tanh) and 0.131 (sin) per layer measured at d = 32), for both activations "
               "(Bonferroni over the two)."),
    assumptions=(_GRAD_ASSUMPTIONS.replace("identity activation; no biases", "tanh / sin "
                 "activation") + " The paper used torch BatchNorm1d (affine, eps 1e-5) and "
                 "biases: at initialisation the affine map is the identity and a bias before a "
                 "centring BN cancels exactly, so we use the engine's centred 'bn' without eps, "
                 "affine or biases (the readout bias and eps are dropped). Layer 0 (fc_0) has "
                 "gain 1 as in the code. Eq. 11's exact display and the rate-of-explosion curves "
                 "(Figs. E1, E2) are [U] and not checked."),
    quick=dict(_GRAD_QUICK, norm="bn", band=0.004,
               arms=[{"activation": "tanh", "gain_exponent": 0.4},
                     {"activation": "sin", "gain_exponent": 0.4}]),
    full=dict(_GRAD_FULL, norm="bn", band=0.0015,
              arms=[{"activation": "tanh", "gain_exponent": 0.4},
                    {"activation": "sin", "gain_exponent": 0.4}]),
    predict=lambda cfg: 0.0, simulate=_grad_simulate, judge=_grad_judge,
    control={"arms": [{"activation": "tanh", "gain_exponent": 0.0},
                      {"activation": "sin", "gain_exponent": 0.0}]},
    control_description=("no shaping (gain exponent 0): tanh and sin at unit gain keep a "
                         "non-linear isometry gap and the log-gradient grows linearly "
                         "(≈ 0.09 and 0.13 nats/layer at d = 32)."),
    figure=_grad_figure_factory("seed001_fig5_activation_shaping.png",
                                "seed 001 Fig. 5: gain (l+1)^-0.4 (claim) vs none (control)"))


# ====================================================== claim 8: BN Jacobian bounds
def _vjp_jacobian(kind, Z):
    """The Jacobian ∂vec(Y)/∂vec(Z) of ``depthcheck.kernels.nn.norms`` norm ``kind`` at Z (d, n), assembled
    from the engine's vector-Jacobian product applied to every output basis vector."""
    d, n = Z.shape
    Y, cache = norm_forward(kind, Z)
    m = d * n
    E = np.eye(m).reshape(m, d, n)
    batched = cache._replace(Y=np.broadcast_to(Y, (m, d, n)),
                             scale=np.broadcast_to(cache.scale, (m, d, 1)))
    # the VJP of output basis vector e_k is Jᵀe_k, i.e. row k of J
    return norm_backward(kind, batched, E).reshape(m, m)


def _jac_simulate(cfg, rng, n_trials, backend):
    d, n = cfg["d"], cfg["n"]
    B = n_trials
    spec_err = np.empty(B)
    op_margin = np.empty(B)
    op_identity = np.empty(B)
    lam_margin = np.empty((B, 3))
    for t in range(B):
        x = rng.standard_normal(n) * math.exp(rng.standard_normal())
        J = _vjp_jacobian("rownorm", x[None, :])
        ev = np.sort(np.linalg.eigvalsh((J + J.T) / 2))
        spec_err[t] = (np.max(np.abs(ev - th.rownorm_jacobian_spectrum(x))) * np.linalg.norm(x)
                       + np.max(np.abs(J - J.T)) * np.linalg.norm(x))
        # X with unit-norm rows (= Bn of something), mildly to strongly correlated
        c = rng.uniform(0.0, 0.9)
        X = row_normalize((1 - c) * rng.standard_normal((d, n)) + c * rng.standard_normal((d, 1)))
        W = sample_orthogonal((), d, rng)
        H = W @ X
        Jb = _vjp_jacobian("rownorm", H)
        opn = np.linalg.norm(Jb, 2)
        lam = np.linalg.eigvalsh(X @ X.T)
        bound = (th.rownorm_jacobian_opnorm_bound(X) if cfg["opnorm_bound"] == "lambda_min"
                 else 1.0 / math.sqrt(lam[-1]))
        op_margin[t] = (bound - opn) / bound
        op_identity[t] = abs(opn * np.min(np.linalg.norm(H, axis=1)) - 1.0)
        # Lemma C.11 on three trace-d Gram matrices: of X, of a Fig. 1 input, of a spiky spectrum
        spectra = [lam,
                   np.linalg.eigvalsh((lambda F: F @ F.T)(fig1_input(d, d, 0.005, rng))),
                   np.exp(3.0 * rng.standard_normal(d))]
        for s, lam_s in enumerate(spectra):
            lam_s = np.maximum(lam_s, 0.0) * (d / np.sum(lam_s))
            phi = float(np.log(np.mean(lam_s)) - np.mean(np.log(lam_s)))
            lb = float(th.lambda_min_lower_bound(phi, d))
            lam_margin[t, s] = (lam_s.min() - lb) / lb
    return {"spectrum_error": spec_err, "opnorm_margin": op_margin,
            "opnorm_identity_error": op_identity, "lambda_min_margin": lam_margin}


def _jac_judge(cfg, pred, ev, alpha):
    tol = cfg["tol"]
    parts = []
    e = float(np.max(ev["spectrum_error"]))
    parts.append(_part("Lemma C.9/C.10: max |eig(J_f) − {0, 1/||x||, ...}|·||x|| (+ asymmetry)",
                       "PASS" if e <= tol else "FAIL", e, (e, e), 0.0, tol - e))
    m = float(np.min(ev["opnorm_margin"]))
    which = "1/√λ_min(XXᵀ)" if cfg["opnorm_bound"] == "lambda_min" else "1/√λ_max(XXᵀ)"
    parts.append(_part(f"Lemma C.4/C.8: min relative margin of ||J_Bn(WX)||_op <= {which}",
                       "PASS" if m >= -tol else "FAIL", m, (m, m), 0.0, m + tol))
    i = float(np.max(ev["opnorm_identity_error"]))
    parts.append(_part("||J_Bn(H)||_op = max_i 1/||h_i|| (relative error)",
                       "PASS" if i <= tol else "FAIL", i, (i, i), 0.0, tol - i))
    lm = float(np.min(ev["lambda_min_margin"]))
    parts.append(_part("Lemma C.11: min relative margin of λ_min >= exp(−1 − dφ)",
                       "PASS" if lm >= -tol else "FAIL", lm, (lm, lm), 0.0, lm + tol))
    what = (f"Jacobians assembled from depthcheck.kernels.nn.norms' VJP on basis vectors (d = {cfg['d']}, "
            f"n = {cfg['n']}, {len(ev['spectrum_error'])} random cases, tolerance {tol}); "
            f"tightest λ_min/exp(−1−dφ) − 1 = {lm:.3g}, tightest op-norm margin {m:.3g}")
    return _family(parts, alpha, what, prediction=0.0)


BN_JACOBIAN = Claim(
    id="seed001.bn_jacobian_bounds",
    title="Lemmas C.4, C.8–C.11: spectrum and operator norm of the Bn Jacobian",
    source=f"{SEED}, Lemmas C.4, C.8, C.9, Corollary C.10, Lemma C.11 (research §5.5–5.8)",
    statement=("(C.9/C.10) f(x) = x/||x|| has J_f = (I − xxᵀ/||x||²)/||x|| with eigenvalues 0 "
               "(once) and 1/||x|| (n−1 times); (C.4/C.8) ||J_Bn(WX)||_op = max_i 1/||h_i|| <= "
               "1/√λ_min(XXᵀ) for orthogonal W; (C.11) λ_min(G) >= exp(−1 − dφ(G)) for PSD G "
               "with tr G = d. Formulas are [D] reconstructions; the paper's small-φ "
               "refinements are [U] and not checked."),
    assumptions=("Deterministic: the Jacobian is built numerically from the engine's "
                 "vector-Jacobian product (depthcheck.kernels.nn.norms, 'rownorm') applied to all d·n basis "
                 "vectors; X with unit-norm rows and random correlation, d = n; relative "
                 "tolerance 1e-9."),
    quick={"trials": 20, "chunk": 10, "d": 8, "n": 8, "opnorm_bound": "lambda_min", "tol": 1e-9},
    full={"trials": 100, "chunk": 25, "d": 16, "n": 16, "opnorm_bound": "lambda_min",
          "tol": 1e-9},
    predict=lambda cfg: 0.0, simulate=_jac_simulate, judge=_jac_judge,
    control={"opnorm_bound": "lambda_max"},
    control_description=("a deliberately wrong bound ||J||_op <= 1/√λ_max(XXᵀ): since "
                         "||h_i||² <= λ_max, it is violated whenever the rows of WX differ."))


# ================================================= claim 10: Haar sampler vs Weingarten
def _qr_no_sign_fix(n, rng, d):
    return np.linalg.qr(rng.standard_normal((n, d, d)))[0]


def _haar_simulate(cfg, rng, n_trials, backend):
    from depthcheck.kernels.random.moments import check_haar_sampler
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
    from scipy.stats import norm
    z = ev["z"]
    m = z.size
    thr = float(norm.isf(alpha / (2 * m)))            # Bonferroni over all monomials and trials
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


HAAR_MOMENTS = Claim(
    id="seed001.haar_sampler_moments",
    title="The engine's Haar sampler matches exact Weingarten moments of O(d)",
    source=f"{SEED}, Haar measure on O_d (eq. 3) and the Weingarten calculus of the proof of "
           f"Theorem 3 (research §4.3; Collins–Śniady 2006, Mezzadri 2007)",
    statement=("For W = depthcheck.kernels.random.haar.sample_orthogonal, the sample means of random and fixed "
               "monomials ∏ W_{i_m j_m} (degree <= 8) agree with their exact Haar expectations "
               "(depthcheck.theory.weingarten) within Bonferroni-corrected z-limits."),
    assumptions=("depthcheck.kernels.random.moments.check_haar_sampler; monomials chosen from the task's rng; "
                 "d = 4 (quick), 6 (full)."),
    quick={"trials": 2, "chunk": 1, "d": 4, "samples": 20000, "max_degree": 8, "monomials": 40,
           "sampler": "sample_orthogonal", "allow_inf": ["z"]},
    full={"trials": 4, "chunk": 1, "d": 6, "samples": 200000, "max_degree": 8,
          "monomials": 60, "sampler": "sample_orthogonal", "allow_inf": ["z"]},
    predict=lambda cfg: 0.0, simulate=_haar_simulate, judge=_haar_judge,
    control={"sampler": "qr_no_sign_fix"},
    control_description=("numpy QR without Mezzadri's sign fix: Q_11 <= 0 always, so E[O_11] "
                         "≠ 0 and the moment check FAILs."))


CLAIMS = [ISOMETRY_DECAY, ISOMETRY_PLATEAU, BN_NEVER_DECREASES, BN_N_LT_D_FINDING, ONE_STEP_RATE,
          BOUNDED_GRADIENTS, DEGENERATE_EXPLODES, BOUNDED_CENTRED, BN_JACOBIAN,
          ACTIVATION_SHAPING, HAAR_MOMENTS]
