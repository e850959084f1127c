"""lcw.deep_sigmoid_gradients / deep_sigmoid_speed / lcw_bn_accuracy: deep sigmoid MLPs trained on
digits (Sec. 6.1)."""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.mlp import MLPSpec, accuracy, grad_norm_recorder, init_mlp, make_loss_and_grad, mlp_loss, mlp_predict
from depthcheck.kernels.nn.training import train
from depthcheck.validation.claims.claim import Verdict
from depthcheck.validation.claims.sequential import Statement
from depthcheck.validation.claims.stats import decide_upper, judge_lower, mean_ci, slope_ci


#: The class-coding contrast of the "mean_coded" data (see :func:`_mean_coded`).
MEAN_CODE_CONTRAST = 4.0


def _mean_coded(rng, y, m):
    """Inputs whose class lies only along 1_m: x = κ (y − 4.5)/4.5 · 1_m + ε, ε ~ N(0, I_m),
    κ = :data:`MEAN_CODE_CONTRAST`. An LCW first layer (w·1_m = 0) is blind to the class;
    a standard one is not (the data of the negative control of lcw.deep_sigmoid_speed)."""
    level = MEAN_CODE_CONTRAST * (y - 4.5) / 4.5
    return level[None, :] + rng.standard_normal((m, y.size))


def _digits_trials(rng, n_trials, cfg):
    """Independent train/test splits, one per trial, stacked on the trials axis. With
    ``cfg["data"] == "mean_coded"`` the images are replaced by :func:`_mean_coded` inputs with
    the same labels and split (default "digits": the images)."""
    parts = [load_digits_data(rng, test_fraction=cfg["test_fraction"],
                              standardise=cfg["standardise"]) for _ in range(n_trials)]
    Xtr = np.stack([p.X_train for p in parts])
    Xte = np.stack([p.X_test for p in parts])
    ytr = np.stack([p.y_train for p in parts])
    yte = np.stack([p.y_test for p in parts])
    if cfg.get("data", "digits") == "mean_coded":
        m = Xtr.shape[1]
        Xtr = np.stack([_mean_coded(rng, y, m) for y in ytr])
        Xte = np.stack([_mean_coded(rng, y, m) for y in yte])
    elif cfg.get("data", "digits") != "digits":
        raise ValueError(f"data must be 'digits' or 'mean_coded', got {cfg['data']!r}")
    return Xtr, ytr, Xte, yte


def _train_arms(cfg, rng, n_trials):
    """Train every arm of ``cfg["arms"]`` on the same per-trial data and minibatch sequence.

    Returns {arm index: history dict with trials leading}: "step" (records,), "train_loss"
    (T, records), "test_acc" (T, records), "grad_log10" (T, records, L).
    """
    Xtr, ytr, Xte, yte = _digits_trials(rng, n_trials, cfg)
    sgd_seed = int(rng.integers(2**63))
    widths = (Xtr.shape[1],) + (cfg["width"],) * cfg["depth"] + (10,)
    out = []
    for arm in cfg["arms"]:
        weights = arm["weights"]
        if weights == "lcw" and cfg.get("lcw_constraint", "kept") == "dropped":
            weights = "standard"  # mutation: the LCW reparametrisation silently not applied
        spec = MLPSpec(widths, cfg["activation"], "xent", weights, True, arm["norm"],
                       arm["norm"] != "none")
        params = init_mlp(spec, rng, trials=n_trials, gain=cfg["gain"])
        f = make_loss_and_grad(spec, Xtr, ytr)
        # full-data evaluations cost ~20 minibatch forwards each: record only what is judged
        rec = {"grad": grad_norm_recorder(spec)}
        if "train_loss" in cfg["record"]:
            rec["train_loss"] = lambda P, l, g, spec=spec: mlp_loss(P, Xtr, ytr, spec)
        if "test_acc" in cfg["record"]:
            rec["test_acc"] = lambda P, l, g, spec=spec: accuracy(mlp_predict(P, Xte, spec), yte)
        res = train(params, f, steps=cfg["steps"], lr=cfg["lr"], momentum=cfg["momentum"],
                    rng=np.random.default_rng(sgd_seed), n_samples=Xtr.shape[-1],
                    batch_size=cfg["batch_size"], record=rec, record_every=cfg["eval_every"])
        h = res.history
        hist = {"step": h["step"], "grad_log10": np.log10(np.moveaxis(h["grad"], 0, 1))}
        for key in cfg["record"]:
            hist[key] = h[key].T
        out.append(hist)
    return out


def _arm_name(arm):
    w = "LCW" if arm["weights"] == "lcw" else "standard"
    return w + ("+BN" if arm["norm"] != "none" else "")


# ---- 6a: per-layer gradient norms
def _grad_simulate(cfg, rng, n_trials, backend):
    h = _train_arms(cfg, rng, n_trials)[0]
    return {"grad_log10": h["grad_log10"],
            "step": np.broadcast_to(h["step"], (n_trials, h["step"].size)).astype(float)}


def _grad_slope_inputs(cfg, ev):
    # hidden-to-hidden layers 2..depth (equal shapes); mean over the recorded steps
    layers = np.arange(2, cfg["depth"] + 1, dtype=float)
    Y = ev["grad_log10"][:, :, 1:cfg["depth"]].mean(axis=1)
    return layers, Y


def _grad_judge(cfg, pred, ev, alpha):
    x, Y = _grad_slope_inputs(cfg, ev)
    fit = slope_ci(x, Y, alpha)
    drop = fit.curve_mean[-1] - fit.curve_mean[0]
    arm = _arm_name(cfg["arms"][0])
    detail = (f"{arm} sigmoid MLP, depth {cfg['depth']}: log10 ‖∂L/∂θ_l‖ rises by "
              f"{fit.slope.estimate:.3g} per layer towards the output (CI [{fit.slope.ci[0]:.3g}, "
              f"{fit.slope.ci[1]:.3g}]); layer 2 vs layer {cfg['depth']}: {drop:.2f} decades, "
              f"averaged over steps 0..{cfg['steps']}. Vanishing = slope above "
              f"{cfg['max_slope']} (a factor 10 lost every {1 / cfg['max_slope']:.0f} layers).")
    v = decide_upper(fit.slope.ci, cfg["max_slope"])
    return Verdict(v, fit.slope.estimate, fit.slope.ci, cfg["max_slope"], alpha, detail,
                   {"decades_layer2_to_last_hidden": float(drop),
                    "mean_log10_grad_per_layer": fit.curve_mean.tolist()})


# ---- 6b: speed (steps to a training loss)
def _steps_to(loss, steps, target, censor):
    hit = loss <= target
    first = np.where(hit.any(axis=1), np.argmax(hit, axis=1), -1)
    return np.where(first >= 0, steps[np.maximum(first, 0)], censor).astype(float)


def _pair_simulate(cfg, rng, n_trials, backend):
    hs = _train_arms(cfg, rng, n_trials)
    ev = {"step": np.broadcast_to(hs[0]["step"], (n_trials, hs[0]["step"].size)).astype(float)}
    for i, h in enumerate(hs):
        for key in cfg["record"]:
            ev[f"{key}_{i}"] = h[key]
    if "test_acc" in cfg["record"]:  # the per-trial value of the sequential decision
        ev["acc_diff"] = ev["test_acc_0"][:, -1] - ev["test_acc_1"][:, -1]
    return ev


def speed_advantage(ev):
    """Per-trial training-loss advantage of arm 0 over arm 1: the mean over the recorded
    evaluations (steps 0, k, ..., S) of L_1 − L_0, in nats (the area between the training
    curves per step; no censoring)."""
    return np.mean(ev["train_loss_1"] - ev["train_loss_0"], axis=1)


def _speed_judge(cfg, pred, ev, alpha):
    steps = ev["step"][0]
    censor = cfg["steps"] + cfg["eval_every"]
    t0 = _steps_to(ev["train_loss_0"], steps, cfg["target_loss"], censor)
    t1 = _steps_to(ev["train_loss_1"], steps, cfg["target_loss"], censor)
    est = mean_ci(speed_advantage(ev), alpha)
    bound = cfg["min_advantage"]
    a0, a1 = (_arm_name(a) for a in cfg["arms"])
    detail = (f"mean training-loss advantage of {a0} over {a1} across steps 0..{cfg['steps']}: "
              f"{est.estimate:.3g} nats [{est.ci[0]:.3g}, {est.ci[1]:.3g}]; claim: ≥ {bound:g} "
              f"(δ/2). Steps to full training loss ≤ {cfg['target_loss']}: {a0} median "
              f"{np.median(t0):.0f} ({np.mean(t0 >= censor):.0%} never within {cfg['steps']} "
              f"steps), {a1} median {np.median(t1):.0f} ({np.mean(t1 >= censor):.0%} never).")
    return judge_lower(est, None, bound, alpha=alpha, prediction=bound, detail=detail,
                       extra={f"steps_{a0}": t0.tolist(), f"steps_{a1}": t1.tolist()})


# ---- 6c: LCW + BN vs BN, test accuracy
def _acc_judge(cfg, pred, ev, alpha):
    a0 = ev["test_acc_0"][:, -1]
    a1 = ev["test_acc_1"][:, -1]
    est = mean_ci(ev["acc_diff"], alpha)
    delta = cfg["delta"]
    n0, n1 = (_arm_name(a) for a in cfg["arms"])
    hw = (est.ci[1] - est.ci[0]) / 2
    detail = (f"final test accuracy after {cfg['steps']} steps: {n0} {a0.mean():.4f} "
              f"(sd {a0.std(ddof=1):.4f}), {n1} {a1.mean():.4f} (sd {a1.std(ddof=1):.4f}); "
              f"paired difference {est.estimate:+.4f} [{est.ci[0]:+.4f}, {est.ci[1]:+.4f}] "
              f"(half-width {hw:.4f}, δ = {delta:g}) at level 1 − {alpha:g} over {a0.size} "
              f"seeds; claim: > 0.")
    v = judge_lower(est, None, 0.0, alpha=alpha, prediction=0.0, detail=detail,
                    extra={f"acc_{n0}": a0.tolist(), f"acc_{n1}": a1.tolist(),
                           "half_width": hw, "delta": delta})
    if v.verdict == "INCONCLUSIVE":
        within = -delta < est.ci[0] and est.ci[1] < delta
        note = (f" Not resolved at this power: any difference lies within ±δ = ±{delta:g} "
                f"(this mode's δ); a smaller one is not resolved, which is not evidence of "
                f"'no difference'." if within else
                f" Not resolved at this power (half-width {hw:.3g} vs δ = {delta:g}); this "
                f"is not evidence of 'no difference'.")
        v = Verdict(v.verdict, v.statistic, v.ci, v.prediction, v.alpha, v.detail + note,
                    v.extra)
    return v


def acc_statement(cfg, pred):
    """The sequential statement of lcw.lcw_bn_accuracy: E[acc(LCW+BN) − acc(BN)] ≥ 0."""
    return Statement.at_least(0.0)


def acc_worse_by_delta(cfg, ev):
    """Mutation (evidence transform, exactly calibrated): a world in which LCW+BN is worse than
    BN by δ: arm 0's final accuracies shifted so that the mean paired difference is −δ, with the
    measured trial-to-trial spread."""
    out = dict(ev)
    shift = -float(np.mean(ev["acc_diff"])) - cfg["delta"]
    out["test_acc_0"] = ev["test_acc_0"] + shift
    out["acc_diff"] = ev["acc_diff"] + shift
    return out


def gradients_vanish_by(extra):
    """Mutation (evidence transform, exactly calibrated) of lcw.deep_sigmoid_gradients: every
    layer's log10 gradient norm tilted by (max_slope + ``extra``)·l, i.e. gradients that vanish
    towards the input (max_slope + extra) decades per layer faster than measured."""
    def transform(cfg, ev):
        out = dict(ev)
        layers = np.arange(1, ev["grad_log10"].shape[-1] + 1, dtype=float)
        out["grad_log10"] = ev["grad_log10"] + (cfg["max_slope"] + extra) * layers
        return out
    return transform
