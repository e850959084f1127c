"""linear_nets.fig1_transition_sharpness: Fig. 1(iii) of Basu et al. 2019 (arXiv:1904.10689) on
simulated networks — deeper linear nets plateau longer and then rise more sharply.

Simulation: the gradient flow of eq. (14) (whitened inputs, ℓ2 loss ½||Σ_yx − W_e||_F²; time in
units of 1/η) integrated with the Euler path of ``linear_nets.theorem3_max_rate``
(:func:`~depthcheck.validation.papers.linear_nets.convergence_time.flow_gradients`, steps of
:func:`~depthcheck.validation.papers.linear_nets.convergence_time.flow_step`: the largest step
<= h that moves no layer by more than eps of its norm). Σ_yx from the paper's Sec. 4 mixture
(whitened) and a linear teacher; N weight matrices 10 → 8 → … → 8 → 3. Per trial one problem
(Σ_yx) and one u0/s (log-uniform), shared by every depth — the figure's "identical settings of s,
u0, δ, c": each net is initialised balanced in norm (Glorot-normal directions, every ||W_j||_F =
u0^(1/N), so Π_j ||W_j||_F = u0 and δ = c = 0 at every depth, and the flow keeps δ = 0).

Per trial and depth the normalised norm r(t) = ||W_e(t)||_F / ||Σ_yx||_F is followed until r
reaches ``hi`` = 0.9 (t_hi, interpolated). The judged, scale-free statistic is the log burst
ratio, the peak speed of r over its mean speed:

    b = log( max_t dr/dt / ((r(t_hi) − r(0)) / t_hi) ),

(dr/dt by differences over Euler steps): b is unchanged by any time scale (η, the prefactor of
(17)) and is ≈ log(ln(9/r0)/3.6) for the smooth logistic rise of one mode of a 2-layer net,
large when a long plateau ends in a sharp transition. The 10 %–90 % transition fraction
(t_0.9 − t_0.1)/t_0.9 of the bound claim is reported too: for the network it need not fall with
depth (it rises from N = 3 on in the full run), since with a multi-mode target t_0.1 and t_0.9
belong to different steps of a staircase, see ``docs/derivations/linear_nets_convergence.md`` §6.
"""
from __future__ import annotations

import numpy as np

from depthcheck.theory._checks import check_positive_int
from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.linear_nets._common import _fmt, mixture_problem
from depthcheck.validation.papers.linear_nets.convergence_time import (
    balanced_norm_init, flow_gradients, flow_step, whitened_target)


def normalised_norm_flow(weights, S, *, h, eps, hi=0.9, max_steps=1_000_000):
    """Euler path of the gradient flow (eq. (14)) until every trial's ||W_e||_F/||S||_F >= hi.

    Steps from :func:`~depthcheck.validation.papers.linear_nets.convergence_time.flow_step`
    (``h``, or with ``eps`` > 0 the largest step <= h that moves no layer by more than ``eps`` of
    its norm); a trial that has reached ``hi`` is frozen (step 0).

    Parameters
    ----------
    weights : list of numpy.ndarray
        N arrays ``W_j`` of shape ``(B, d_j, d_(j-1))``.
    S : numpy.ndarray
        Targets Σ_yx, shape ``(B, d_N, d_0)``, non-zero.
    h : float
        Largest step (> 0), time in units of 1/η.
    eps : float
        Largest relative change of a layer per step (>= 0; 0 for fixed steps h).
    hi : float, optional
        Level of the normalised norm at which a trial stops, in (0, 1).
    max_steps : int, optional
        Give up (ValueError) after this many steps.

    Returns
    -------
    t : numpy.ndarray
        Times, shape ``(n_steps + 1, B)`` (per trial: steps differ between trials).
    r : numpy.ndarray
        ||W_e(t)||_F/||S||_F, same shape.

    Raises
    ------
    ValueError
        For ``h <= 0``, ``eps < 0``, ``hi`` outside (0, 1), a zero target, a trial that starts at
        or above ``hi``, or more than ``max_steps`` steps.

    Examples
    --------
    One scalar "layer" (N = 1): dw/dt = s − w, so r(t) = 1 − e^{−t} from w(0) = 0+:

    >>> import numpy as np
    >>> t, r = normalised_norm_flow([np.full((1, 1, 1), 1e-9)], np.ones((1, 1, 1)),
    ...                             h=1e-3, eps=0.0, hi=0.5)
    >>> bool(abs(t[-1, 0] - np.log(2)) < 2e-3)
    True
    """
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if not 0.0 < hi < 1.0:
        raise ValueError(f"hi must lie in (0, 1), got {hi}")
    s = np.linalg.norm(S, axis=(-2, -1))
    if np.any(~(s > 0)):
        raise ValueError("S must be non-zero in every trial")
    max_steps = check_positive_int(max_steps, "max_steps")
    W = list(weights)
    B = S.shape[0]
    t = np.zeros(B)
    ts, rs = [], []
    for _ in range(max_steps + 1):
        G, We = flow_gradients(W, S)
        r = np.linalg.norm(We, axis=(-2, -1)) / s
        if not ts and np.any(r >= hi):
            raise ValueError(f"initial ||W_e||/||S|| >= hi={hi} in some trial; lower the init")
        ts.append(t)
        rs.append(r)
        if np.all(r >= hi):
            return np.stack(ts), np.stack(rs)
        step = np.where(r >= hi, 0.0, flow_step(W, G, h, eps))
        W = [x + step[:, None, None] * g for x, g in zip(W, G)]
        t = t + step
    raise ValueError(f"||W_e||/||S|| did not reach {hi} within max_steps={max_steps}")


def crossing_time(t, r, level):
    """First time r reaches ``level`` per trial (linear interpolation between steps).

    Parameters
    ----------
    t, r : numpy.ndarray
        Shape ``(n, B)`` as returned by :func:`normalised_norm_flow`.
    level : float
        Must lie in ``(r[0], max r]`` for every trial.

    Returns
    -------
    numpy.ndarray
        Shape ``(B,)``.

    Raises
    ------
    ValueError
        If some trial starts at or above ``level`` or never reaches it.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0], [1.0], [2.0]]); r = np.array([[0.0], [0.2], [0.6]])
    >>> crossing_time(t, r, 0.4)
    array([1.5])
    """
    if np.any(r[0] >= level) or np.any(r.max(0) < level):
        raise ValueError(f"level={level} must lie in (r(0), max r] for every trial")
    k = np.argmax(r >= level, axis=0)
    b = np.arange(r.shape[1])
    x = (level - r[k - 1, b]) / (r[k, b] - r[k - 1, b])
    return t[k - 1, b] + x * (t[k, b] - t[k - 1, b])


def log_burst_ratio(t, r, hi=0.9):
    """log of the peak speed of r over its mean speed up to t_hi (scale-free sharpness).

    b = log(max dr/dt / ((hi − r(0))/t_hi)), dr/dt by differences over the steps up to the one
    that crosses ``hi`` (frozen steps, of length 0, are skipped). Invariant under t -> a·t.

    Parameters
    ----------
    t, r : numpy.ndarray
        Shape ``(n, B)`` as returned by :func:`normalised_norm_flow`.
    hi : float, optional
        The level that ends the run.

    Returns
    -------
    numpy.ndarray
        Shape ``(B,)``; >= 0 for a curve that rises monotonically (peak >= mean).

    Examples
    --------
    A straight line has peak speed = mean speed (b = 0); the same line with its time axis
    stretched or shifted in level gives the same b:

    >>> import numpy as np
    >>> t = np.linspace(0, 1, 11)[:, None]; r = 0.9 * t + 0.0
    >>> print(float(np.round(log_burst_ratio(t, r)[0], 12)))
    0.0
    >>> print(float(np.round(log_burst_ratio(5 * t, r)[0], 12)))
    0.0
    """
    t_hi = crossing_time(t, r, hi)
    dt = np.diff(t, axis=0)
    live = (dt > 0) & (t[:-1] < t_hi)
    speed = np.where(live, np.diff(r, axis=0) / np.where(dt > 0, dt, 1.0), -np.inf)
    return np.log(speed.max(0) * t_hi / (hi - r[0]))


def _sharp_simulate(cfg, rng, n_trials, backend):
    """Per trial one mixture problem and one u0/s (log-uniform on ``u0_over_s``), shared by every
    arm; arm i is a net of ``depths[i]`` weight matrices (``shape_depth`` set, a mutation: a net
    of that many matrices instead, its time axis scaled by shape_depth/depths[i], the speed-up N
    of the prefactor of (17) at c = 0, i.e. depth as a time scale only)."""
    B = n_trials
    X, Y = mixture_problem(rng, B, per_cluster=cfg["per_cluster"], d_in=cfg["d_in"],
                           d_out=cfg["d_out"], teacher_scale=cfg["teacher_scale"])
    S = whitened_target(X, Y)
    s = np.linalg.norm(S, axis=(-2, -1))
    ratio = np.exp(rng.uniform(*np.log(cfg["u0_over_s"]), size=B))
    lo, hi = cfg["levels"]
    grid = np.linspace(0.0, 1.0, cfg["n_grid"])
    out = {k: [] for k in ("log_burst", "frac", "t_hi", "r0", "curve")}
    for N in cfg["depths"]:
        n_sim = cfg.get("shape_depth") or N
        widths = [cfg["d_in"]] + [cfg["hidden"]] * (n_sim - 1) + [cfg["d_out"]]
        W = balanced_norm_init(rng, B, widths, ratio * s)
        t, r = normalised_norm_flow(W, S, h=cfg["h"], eps=cfg["eps"], hi=hi)
        t = t * (n_sim / N)
        t_hi = crossing_time(t, r, hi)
        out["log_burst"].append(log_burst_ratio(t, r, hi))
        out["frac"].append((t_hi - crossing_time(t, r, lo)) / t_hi)
        out["t_hi"].append(t_hi)
        out["r0"].append(r[0])
        out["curve"].append(np.stack([np.interp(grid * t_hi[b], t[:, b], r[:, b])
                                      for b in range(B)]))
    ev = {k: np.stack(v, 1) for k, v in out.items()}
    ev["u0_over_s"] = ratio
    return ev


def _sharp_judge(cfg, pred, ev, alpha):
    depths = cfg["depths"]
    if len(depths) < 2:
        raise ValueError(f"depths must list at least two depths, got {depths}")
    delta = cfg["delta"]
    b = ev["log_burst"]
    fam = Family(alpha, len(depths) - 1)
    for i in range(len(depths) - 1):
        est = mean_ci(b[:, i + 1] - b[:, i], fam.level)
        fam.add_lower(f"N={depths[i]}→{depths[i + 1]}", est.estimate, est.ci, delta)
    frac = ev["frac"].mean(0)
    dfrac = np.diff(np.log(ev["frac"]), axis=1).mean(0)
    t_hi = np.exp(np.log(ev["t_hi"]).mean(0))
    lo, hi = cfg["levels"]
    falls = bool(np.all(dfrac < 0))
    slower = bool(np.all(np.diff(depths) > 0) and np.all(np.diff(t_hi) > 0))
    detail = fam.summary(
        f"Sharper transition with depth: the mean over trials of the rise of the log burst "
        f"ratio log(max dr/dt / mean dr/dt), r = ||W_e||/||Σ_yx|| up to {hi}, per added layer "
        f"is >= δ = {_fmt(delta)}, N = {depths}, identical (Σ_yx, u0, c = 0) per trial, u0/s "
        f"in {cfg['u0_over_s']}", fmt=_fmt)
    detail += (f" Burst ratio exp(mean b) per depth {[_fmt(v) for v in np.exp(b.mean(0))]}. "
               f"Not judged: the {_fmt(100 * lo)}–{_fmt(100 * hi)} % transition fraction per "
               f"depth {[_fmt(v) for v in frac]}, mean log change per added layer "
               f"{[_fmt(v) for v in dfrac]} ({'falls at every step' if falls else 'not monotone'}"
               f"); time to {hi}·s, geometric mean {[_fmt(v) for v in t_hi]} (1/η)"
               + (": at identical u0 the deeper net is slower, against 'smaller networks are "
                  "slower'." if slower else "."))
    return fam.verdict(detail, extra={"burst_mean": b.mean(0).tolist(),
                                      "frac_mean": frac.tolist(),
                                      "t_hi_geomean": t_hi.tolist(),
                                      "r0_mean": ev["r0"].mean(0).tolist()})
