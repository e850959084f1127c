"""lcw.deep_sigmoid_gradients / deep_sigmoid_speed / lcw_bn_accuracy: deep sigmoid MLPs trained on
digits (Sec. 6.1)."""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.mlp import MLPSpec, accuracy, grad_norm_recorder, init_mlp, make_loss_and_grad, mlp_loss, mlp_predict
from depthcheck.kernels.nn.training import train
from depthcheck.validation.claims.claim import Verdict
from depthcheck.validation.claims.stats import decide_lower, decide_upper, judge_lower, mean_ci, slope_ci


def _digits_trials(rng, n_trials, cfg):
    """Independent train/test splits, one per trial, stacked on the trials axis."""
    parts = [load_digits_data(rng, test_fraction=cfg["test_fraction"],
                              standardise=cfg["standardise"]) for _ in range(n_trials)]
    return (np.stack([p.X_train for p in parts]), np.stack([p.y_train for p in parts]),
            np.stack([p.X_test for p in parts]), np.stack([p.y_test for p in parts]))


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
        spec = MLPSpec(widths, cfg["activation"], "xent", arm["weights"], True, arm["norm"],
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
    return ev


def _speed_judge(cfg, pred, ev, alpha):
    steps = ev["step"][0]
    censor = cfg["steps"] + cfg["eval_every"]
    t0 = _steps_to(ev["train_loss_0"], steps, cfg["target_loss"], censor)
    t1 = _steps_to(ev["train_loss_1"], steps, cfg["target_loss"], censor)
    d = np.log2(t1 / np.maximum(t0, 1.0))  # step 0 hits count as 1 step
    est = mean_ci(d, alpha)
    a0, a1 = (_arm_name(a) for a in cfg["arms"])
    detail = (f"steps to full training loss ≤ {cfg['target_loss']}: {a0} median "
              f"{np.median(t0):.0f} ({np.mean(t0 >= censor):.0%} never within {cfg['steps']} "
              f"steps), {a1} median {np.median(t1):.0f} ({np.mean(t1 >= censor):.0%} never); "
              f"statistic mean log2(T_{a1}/T_{a0}) = {est.estimate:.3g} [{est.ci[0]:.3g}, "
              f"{est.ci[1]:.3g}] (censored runs count as {censor} steps, so a positive value is "
              f"a lower bound); claim: > 0.")
    v = decide_lower(est.ci, 0.0)
    if v == "PASS" and est.ci[0] == 0.0:
        v = "INCONCLUSIVE"  # a degenerate interval at 0 shows no speed-up
    return Verdict(v, est.estimate, est.ci, 0.0, alpha, detail,
                   {f"steps_{a0}": t0.tolist(), f"steps_{a1}": t1.tolist()})


# ---- 6c: LCW + BN vs BN, test accuracy
def _acc_judge(cfg, pred, ev, alpha):
    a0 = ev["test_acc_0"][:, -1]
    a1 = ev["test_acc_1"][:, -1]
    est = mean_ci(a0 - a1, alpha)
    n0, n1 = (_arm_name(a) for a in cfg["arms"])
    detail = (f"final test accuracy after {cfg['steps']} steps: {n0} {a0.mean():.4f} "
              f"(sd {a0.std(ddof=1):.4f}), {n1} {a1.mean():.4f} (sd {a1.std(ddof=1):.4f}); "
              f"paired difference {est.estimate:+.4f} [{est.ci[0]:+.4f}, {est.ci[1]:+.4f}] at "
              f"level 1 − {alpha:g} over {a0.size} seeds; claim: > 0.")
    v = judge_lower(est, None, 0.0, alpha=alpha, prediction=0.0, detail=detail,
                    extra={f"acc_{n0}": a0.tolist(), f"acc_{n1}": a1.tolist()})
    return v
