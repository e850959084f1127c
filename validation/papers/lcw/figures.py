"""Figure callbacks of the Kutsuna 2020 (arXiv:2403.13833) claims (drawn by the report, never by
the judges)."""
from __future__ import annotations

from pathlib import Path

import math

import numpy as np

from depthcheck.validation.papers.lcw.deep_sigmoid import _arm_name
from depthcheck.validation.claims.plotting import pyplot


def _shift_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    acts = cfg["activations"]
    fig, axes = plt.subplots(1, len(acts), figsize=(4.2 * len(acts), 3.8), squeeze=False)
    for a, act in enumerate(acts):
        ax = axes[0, a]
        for r, lab, col in ((ctrl, "control", "C3"), (res, "claim", "C0")):  # claim on top
            if r is None:
                continue
            g = r.prediction[act]["gamma"]
            x = np.ravel(g * r.evidence["sum_w"][:3, a])
            y = np.ravel(r.evidence["mean_z"][:3, a])
            ax.scatter(x, y, s=4, alpha=0.5, color=col,
                       label=f"{lab}: {r.config['weights']} weights, offset sd "
                             f"{r.config['input_offset_sd']:g}")
        lim = np.max(np.abs(ax.get_xlim() + ax.get_ylim()))
        ax.plot([-lim, lim], [-lim, lim], "k--", lw=1, label="γ√m‖w‖cos θ")
        ax.set_xlabel("predicted mean pre-activation γ Σ_j w_j")
        ax.set_ylabel("measured mean over samples")
        ax.set_title(f"{act} inputs (3 trials × {cfg['n']} neurons)")
        ax.legend(fontsize=7)
    fig.suptitle(f"{res.id}: {res.verdict.verdict}")
    fig.tight_layout()
    path = outdir / f"{res.id.replace('.', '_')}_scatter.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def _noshift_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    acts = cfg["activations"]
    fig, axes = plt.subplots(1, len(acts), figsize=(4.2 * len(acts), 3.6), squeeze=False)
    for a, act in enumerate(acts):
        ax = axes[0, a]
        y = np.ravel(res.evidence["mean_z"][:, a])
        lim = 1.05 * np.max(np.abs(ctrl.evidence["mean_z"][:, a])) if ctrl else np.max(np.abs(y))
        bins = np.linspace(-lim, lim, 121)
        if ctrl is not None:
            ax.hist(np.ravel(ctrl.evidence["mean_z"][:, a]), bins=bins, color="C3", alpha=0.5,
                    label=f"control: {ctrl.config['weights']} weights")
        ax.hist(y, bins=bins, color="C0", alpha=0.8, label=f"claim: {cfg['weights']} weights")
        s2 = res.prediction[act]["sigma_gamma2"]
        se = math.sqrt(s2 * float(np.mean(res.evidence["norm2_w"][:, a])) / cfg["samples"])
        ax.axvspan(-3 * se, 3 * se, color="k", alpha=0.15, label="±3 s.e. (sampling)")
        ax.set_yscale("log")
        ax.set_xlabel("measured mean pre-activation per neuron")
        ax.set_title(f"{act} inputs, γ = {res.prediction[act]['gamma']:.3f}")
        ax.legend(fontsize=7)
    fig.suptitle(f"{res.id}: {res.verdict.verdict}")
    fig.tight_layout()
    path = outdir / "seed000_lcw_no_shift_hist.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def _gain_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    acts = cfg["activations"]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    labels, vals, errs, preds = [], [], [], []
    ev, pred = res.evidence, res.prediction
    for ki, kind in enumerate(("standard", "lcw")):
        for a, act in enumerate(acts):
            s2 = pred["moments"][act]["sigma_gamma2"]
            x = ev["forward_second_moment"][:, ki, a] / s2
            labels.append(f"fwd\n{kind}\n{act}")
            vals.append(x.mean())
            errs.append(x.std(ddof=1) / math.sqrt(x.size) * 5)
            preds.append(pred["forward"][act][kind])
        x = ev["backward_second_moment"][:, ki]
        labels.append(f"bwd\n{kind}")
        vals.append(x.mean())
        errs.append(x.std(ddof=1) / math.sqrt(x.size) * 5)
        preds.append(pred["backward"][kind])
    pos = np.arange(len(labels))
    ax.bar(pos, vals, yerr=errs, color="C0", alpha=0.7, label="measured (±5 s.e.)")
    ax.scatter(pos, preds, color="k", marker="_", s=400, zorder=3,
               label="theory (docs/derivations/lcw.md §3)")
    if ctrl is not None:  # the control's (shift-free) standard forward predictions
        for i, lab in enumerate(labels):
            if lab.startswith("fwd\nstandard"):
                act = lab.split("\n")[2]
                ax.scatter([pos[i]], [ctrl.prediction["forward"][act]["standard"]], color="C3",
                           marker="x", zorder=3,
                           label="control: no shift term" if act == acts[0] else None)
    ax.set_xticks(pos, labels, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("variance gain")
    ax.set_title(f"{res.id}: {res.verdict.verdict} (m = n = {cfg['m']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = outdir / "seed000_variance_gains.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def _grad_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r, col in ((res, "C0"), (ctrl, "C3")):
        if r is None:
            continue
        G = r.evidence["grad_log10"]  # (T, records, L)
        L = G.shape[-1]
        layers = np.arange(1, L + 1)
        name = _arm_name(r.config["arms"][0])
        for rec, ls in ((0, ":"), (G.shape[1] - 1, "-")):
            m = G[:, rec].mean(axis=0)
            s = G[:, rec].std(axis=0, ddof=1)
            step = int(r.evidence["step"][0, rec])
            ax.plot(layers, m, ls, color=col, label=f"{name}, step {step}")
            ax.fill_between(layers, m - s, m + s, color=col, alpha=0.15)
    ax.set_xlabel("layer l (1 = input side, last = output layer)")
    ax.set_ylabel("log10 ‖∂L/∂θ_l‖_F (mean ± sd over trials)")
    ax.set_title(f"Deep sigmoid MLP on digits, depth {cfg['depth']}: {res.verdict.verdict}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = outdir / "seed000_grad_norm_per_layer.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def _curves_figure(cfg, res, ctrl, outdir: Path, key, ylabel, fname, target=None):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = res.evidence["step"][0]
    for i, arm in enumerate(cfg["arms"]):
        Y = res.evidence[f"{key}_{i}"]
        m, s = Y.mean(axis=0), Y.std(axis=0, ddof=1)
        ax.plot(steps, m, color=f"C{i}", label=_arm_name(arm))
        ax.fill_between(steps, m - s, m + s, color=f"C{i}", alpha=0.2)
    if ctrl is not None:
        for i, arm in enumerate(ctrl.config["arms"]):
            if arm in cfg["arms"]:
                continue
            Y = ctrl.evidence[f"{key}_{i}"]
            ax.plot(ctrl.evidence["step"][0], Y.mean(axis=0), "--", color="C3",
                    label=f"{_arm_name(arm)} (control run)")
    if target is not None:
        ax.axhline(target, color="k", lw=0.8, ls=":", label=f"target {target}")
    ax.set_xlabel("SGD step")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{res.id}: {res.verdict.verdict} (depth {cfg['depth']}, width "
                 f"{cfg['width']}, mean ± sd over {res.trials} trials)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = outdir / fname
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def _speed_figure(cfg, res, ctrl, outdir):
    return _curves_figure(cfg, res, ctrl, outdir, "train_loss", "training loss (cross-entropy)",
                          "seed000_training_curves.png", cfg["target_loss"])


def _acc_figure(cfg, res, ctrl, outdir):
    return _curves_figure(cfg, res, ctrl, outdir, "test_acc", "test accuracy",
                          "seed000_test_accuracy_bn.png")
