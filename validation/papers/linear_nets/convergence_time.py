"""linear_nets.theorem3_max_rate (a finding): Theorem 3's maximum rate (eq. (17)) of the combined
strength u = Π_j ||W_j||_F fails near convergence (Basu et al. 2019, arXiv:1904.10689).

Simulation: whitened inputs (the theorem's eq. (14)), so the ℓ2 loss is ½||Σ_yx − W_e||_F² + const
and GD with step h is Euler's method for the flow in units of 1/η; Σ_yx from the paper's Sec. 4
mixture (whitened) and a linear teacher; N weight matrices 10 → 8 → … → 8 → 3, initialised
balanced in norm (Glorot-normal directions, every ||W_j||_F = (u0_over_s·s)^(1/N), so u0 is the
same fraction of s at every depth; ``init="glorot"``: plain Glorot-normal × ``init_scale``). The
rate du/dt is the exact flow rate ⟨Σ_yx − W_e, W_e⟩ Σ_j u/w_j² evaluated along the Euler path
(docs/derivations/linear_nets_convergence.md §2), compared with F(u) of
:func:`depthcheck.theory.convergence_time.theorem3_rate_bound` at the smallest admissible c.
Euler steps: while u < 0.45·s (the plateau: deep nets stay there for up to ~10³ time units,
since ||W_e|| ≪ u) the largest step <= ``h_plateau`` that moves no layer by more than ``eps`` of
its norm, then the fixed step ``h``.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory import convergence_time as ct
from depthcheck.validation.claims.stats import Family, judge_all_hold, mean_ci
from depthcheck.validation.papers.linear_nets._common import _fmt, glorot_init, mixture_problem


def whitened_target(X, Y):
    """Σ_yx of the whitened problem: (YXᵀ/n) Σ_xx^{−1/2}, shape ``(B, d_out, d_in)``.

    With x̃ = Σ_xx^{−1/2} x the loss (1/2n)||Y − W X̃||² = ½||Σ_yx − W||_F² + const (eq. (14)).
    """
    n = X.shape[-1]
    Sxx = X @ np.swapaxes(X, -1, -2) / n
    Syx = Y @ np.swapaxes(X, -1, -2) / n
    w, V = np.linalg.eigh(Sxx)
    isq = (V / np.sqrt(w)[..., None, :]) @ np.swapaxes(V, -1, -2)
    return Syx @ isq


def flow_gradients(weights, S):
    """Negative gradients of ½||S − W_N⋯W_1||_F² (the right-hand sides of eq. (14)).

    Returns (list of −∂L/∂W_j, W_e).
    """
    N = len(weights)
    B, d_in = weights[0].shape[0], weights[0].shape[-1]
    P = [np.broadcast_to(np.eye(d_in), (B, d_in, d_in))]
    for W in weights:
        P.append(W @ P[-1])
    We = P[-1]
    R = S - We
    A = np.broadcast_to(np.eye(S.shape[-2]), (B, S.shape[-2], S.shape[-2]))
    G = [None] * N
    for j in range(N - 1, -1, -1):
        G[j] = np.swapaxes(A, -1, -2) @ R @ np.swapaxes(P[j], -1, -2)
        A = A @ weights[j]
    return G, We


def _rank1_problem(rng, B, widths, s_range, jitter):
    """Σ_yx = s r_N r_0ᵀ and W_j = a_j r_{j+1} r_jᵀ (one aligned mode, Π a_j = 0.1 s)."""
    N = len(widths) - 1
    r = [sample_orthogonal((B,), d, rng)[..., :, :1] for d in widths]
    s = rng.uniform(*s_range, size=B)
    z = np.clip(rng.standard_normal((B, N)), -2.0, 2.0)
    z -= z.mean(axis=1, keepdims=True)
    a = (0.1 * s[:, None]) ** (1.0 / N) * np.exp(jitter * z)
    W = [a[:, j, None, None] * r[j + 1] @ np.swapaxes(r[j], -1, -2) for j in range(N)]
    S = s[:, None, None] * r[-1] @ np.swapaxes(r[0], -1, -2)
    return W, S


def balanced_norm_init(rng, B, widths, target):
    """Glorot-normal directions rescaled so that every ||W_j||_F = target^(1/N) (δ = 0).

    A balanced-in-norm initialisation (Basu et al. 2019, Corollary 2.3 and Theorem 3's δ = 0)
    with combined strength Π_j ||W_j||_F = ``target`` (shape ``(B,)``) per trial.
    """
    N = len(widths) - 1
    target = np.asarray(target, dtype=float)
    if target.shape != (B,) or np.any(~(target > 0)):
        raise ValueError("target must be a positive array of shape (B,)")
    a = target ** (1.0 / N)
    return [x * (a / np.linalg.norm(x, axis=(-2, -1)))[:, None, None]
            for x in glorot_init(rng, B, widths)]


def flow_step(W, G, h, eps):
    """Euler step size for the flow: ``h``, or, with ``eps`` > 0, the largest step <= h that
    moves no layer by more than ``eps`` of its norm (long steps on the plateau, where the flow
    is slow; h near convergence). Returns an array of shape ``(B,)``."""
    if not eps:
        return np.full(W[0].shape[0], h)
    rel = np.max(np.stack([np.linalg.norm(g, axis=(-2, -1)) / np.linalg.norm(x, axis=(-2, -1))
                           for x, g in zip(W, G)], -1), -1)
    return np.minimum(h, eps / np.maximum(rel, 1e-300))


def _rate_sim(cfg, rng, B, N):
    widths = [cfg["d_in"]] + [cfg["hidden"]] * (N - 1) + [cfg["d_out"]]
    if cfg["init"] in ("glorot", "balanced"):
        X, Y = mixture_problem(rng, B, per_cluster=cfg["per_cluster"], d_in=cfg["d_in"],
                               d_out=cfg["d_out"], teacher_scale=cfg["teacher_scale"])
        S = whitened_target(X, Y)
        if cfg["init"] == "glorot":
            W = [cfg["init_scale"] * w for w in glorot_init(rng, B, widths)]
        else:  # balanced in norm, u0 = u0_over_s·s at every depth
            W = balanced_norm_init(rng, B, widths,
                                   cfg["u0_over_s"] * np.linalg.norm(S, axis=(-2, -1)))
    else:  # "rank1": the single aligned mode the proof's substitution describes exactly
        W, S = _rank1_problem(rng, B, widths, cfg["rank1_s"], cfg["jitter"])
    s = np.linalg.norm(S, axis=(-2, -1))
    h, eps, T_max = cfg["h"], cfg.get("eps", 0.0), cfg["T_max"]
    us, rates, ts = [], [], []
    hi = cfg["window"][1]
    t = np.zeros(B)
    while True:
        G, We = flow_gradients(W, S)
        w = np.stack([np.linalg.norm(x, axis=(-2, -1)) for x in W], -1)  # (B, N)
        u = w.prod(-1)
        inner = np.einsum("bij,bij->b", S - We, We)
        us.append(w)
        rates.append(inner * np.sum(u[:, None] / w ** 2, -1))  # exact flow du/dt
        ts.append(t)
        if np.all(u >= hi * s) or t.min() >= T_max - 1e-9 * h:
            break
        # trials past hi·s are frozen (their record is not read beyond the crossing)
        # adaptive (up to h_plateau) only below half the window's lower end, then fixed h
        coarse = np.where(u < 0.5 * cfg["window"][0] * s,
                          flow_step(W, G, cfg.get("h_plateau", h) if eps else h, eps), h)
        step = np.where(u >= hi * s, 0.0, np.minimum(coarse, T_max - t))
        W = [x + step[:, None, None] * g for x, g in zip(W, G)]
        t = t + step
    w = np.stack(us)  # (n_t, B, N)
    rate = np.stack(rates)
    t = np.stack(ts)  # (n_t, B): per-trial times (adaptive steps differ between trials)
    u = w.prod(-1)
    if not np.all(u[-1] >= hi * s):
        raise ValueError(f"N={N}: u did not reach {hi}·s within T_max={cfg['T_max']} in "
                         f"{int(np.sum(u[-1] < hi * s))} trials; raise T_max")
    delta = (w.max(-1) - w.min(-1)).max(0)
    c = delta / w.min(-1).min(0)  # the smallest c with δ <= c·min_j w_j over the run
    q = np.empty(B)
    t_ratio = np.empty((B, 2))
    for b in range(B):
        F = ct.theorem3_rate_bound(np.minimum(u[:, b], s[b]), s[b], N, c[b])
        win = (u[:, b] >= cfg["window"][0] * s[b]) & (u[:, b] <= hi * s[b])
        # the window's end u = hi·s, where F is smallest: the rate interpolated linearly in u
        # between the two steps that bracket the crossing (the max over the window is not
        # left to where the steps happen to land)
        k = int(np.argmax(u[:, b] >= hi * s[b]))
        x = (hi * s[b] - u[k - 1, b]) / (u[k, b] - u[k - 1, b])
        end = ((1 - x) * rate[k - 1, b] + x * rate[k, b]) / ct.theorem3_rate_bound(
            hi * s[b], s[b], N, c[b])
        q[b] = np.log(max(np.max(rate[win, b] / F[win], initial=-np.inf), end))
        for i, frac in enumerate((0.5, 0.9)):
            uf = frac * s[b]
            if u[0, b] >= uf:
                raise ValueError(f"N={N}: u0 >= {frac}·s; lower init_scale")
            k = int(np.argmax(u[:, b] >= uf))
            t_ratio[b, i] = t[k, b] / ct.theorem3_min_time(u[0, b], uf, s[b], N, c[b])
    return {"q": q, "t_ratio": t_ratio, "c": c, "u0_over_s": u[0] / s,
            "t_cross": np.array([t[int(np.argmax(u[:, b] >= s[b] * hi)), b] for b in range(B)])}


def _t3_simulate(cfg, rng, n_trials, backend):
    out = [_rate_sim(cfg, rng, n_trials, N) for N in cfg["depths"]]
    return {k: np.stack([o[k] for o in out], 1) for k in out[0]}


def _t3_judge(cfg, pred, ev, alpha):
    depths = cfg["depths"]
    fam = Family(alpha, len(depths))
    for i, N in enumerate(depths):
        est = mean_ci(ev["q"][:, i], fam.level)
        fam.add_lower(f"N={N}", est.estimate, est.ci, 0.0)
    tr = np.exp(np.log(ev["t_ratio"]).mean(0))  # geometric means, (depths, 2)
    detail = fam.summary(
        "Finding: the mean over trials of log max_t (du/dt)/F(u) over u ∈ "
        f"[{cfg['window'][0]}s, {cfg['window'][1]}s] is > 0 (the maximum rate (17) is exceeded), "
        f"per depth N = {depths}", fmt=_fmt)
    detail += (f" Rate excess exp(mean q) per depth {[_fmt(math.exp(v)) for v in ev['q'].mean(0)]}"
               f"; c (smallest admissible) mean {[_fmt(v) for v in ev['c'].mean(0)]}; u0/s "
               f"{[_fmt(v) for v in ev['u0_over_s'].mean(0)]}. The minimum time T_min still "
               f"bounds the time to reach uf = s/2 (T_sim/T_min geometric mean "
               f"{[_fmt(v) for v in tr[:, 0]]}: a proven bound for uf <= s/2) and uf = 0.9 s "
               f"({[_fmt(v) for v in tr[:, 1]]}); simulated time to {cfg['window'][1]}·s: mean "
               f"{[_fmt(v) for v in ev['t_cross'].mean(0)]}, max "
               f"{[_fmt(v) for v in ev['t_cross'].max(0)]} (T_min falls with depth).")
    return fam.verdict(detail, extra={"t_ratio_geomean": tr.tolist(),
                                      "t_cross_mean": ev["t_cross"].mean(0).tolist(),
                                      "q_mean": ev["q"].mean(0).tolist(),
                                      "c_mean": ev["c"].mean(0).tolist()})


# ------------------------------------------------------------------------------ Figure 1(iii)

def bound_transition(u0, s, n_weights, c, lo=0.1, hi=0.9):
    """Times to reach lo·s and hi·s along Theorem 3's bound curve du/dt = F(u) (eq. (17)),
    and the transition fraction (t_hi − t_lo)/t_hi (small: a plateau, then a sharp rise).

    Requires u0 < lo·s. Returns (t_lo, t_hi, fraction).
    """
    if not 0.0 < u0 < lo * s:
        raise ValueError(f"u0 must lie in (0, {lo}·s), got u0={u0}, s={s}")
    t_lo = ct.theorem3_min_time(u0, lo * s, s, n_weights, c)
    t_hi = ct.theorem3_min_time(u0, hi * s, s, n_weights, c)
    return t_lo, t_hi, (t_hi - t_lo) / t_hi


def _fig1_simulate(cfg, rng, n_trials, backend):
    """Cases of Fig. 1(iii): one (s, u0, c) per trial, shared by every depth (as in the figure);
    u0/s log-uniform on ``u0_over_s``, s uniform on ``s_range``, c uniform on [0, c_max]."""
    depths = cfg["depths"]
    r = np.exp(rng.uniform(*np.log(cfg["u0_over_s"]), size=n_trials))
    s = rng.uniform(*cfg["s_range"], size=n_trials)
    c = rng.uniform(0.0, cfg["c_max"], size=n_trials)
    frac = np.empty((n_trials, len(depths)))
    t_hi = np.empty_like(frac)
    for b in range(n_trials):
        for i, N in enumerate(depths):
            _, t_hi[b, i], frac[b, i] = bound_transition(r[b] * s[b], s[b], N, c[b])
    return {"log_frac": np.log(frac), "t_hi": t_hi, "u0_over_s": r}


def _fig1_judge(cfg, pred, ev, alpha):
    lf = ev["log_frac"]
    margins = lf[:, :-1] - lf[:, 1:] - cfg["min_sharpening"]
    depths = cfg["depths"]
    faster = np.diff(ev["t_hi"], axis=1) < 0  # deeper reaches hi·s sooner
    r = ev["u0_over_s"]
    slow_cases = r[~faster.all(1)]
    speed = ("deeper is also faster (smaller t_0.9) in every case" if slow_cases.size == 0 else
             f"but 'smaller networks are slower' fails in {slow_cases.size}/{r.size} cases, "
             f"u0/s <= {_fmt(slow_cases.max())} (small inits: the deeper bound's plateau "
             f"∝ u0^(−(N−2)/N) outlasts the gain N(1+c)^(2(N−1)/N))")
    detail = (f"log((t_0.9 − t_0.1)/t_0.9) of the bound curve du/dt = F(u) (eq. 17) falls by "
              f">= {cfg['min_sharpening']} per added layer, N = {depths}, for identical "
              f"(s, u0, c) with u0/s in {cfg['u0_over_s']}: smallest margin "
              f"{_fmt(margins.min())}. Mean fraction per depth "
              f"{[_fmt(v) for v in np.exp(lf).mean(0)]} (plateau then sharper rise with depth); "
              f"{speed}.")
    return judge_all_hold(margins, prediction=pred, detail=detail,
                          extra={"frac_mean": np.exp(lf).mean(0).tolist(),
                                 "t_hi_mean": ev["t_hi"].mean(0).tolist()})
