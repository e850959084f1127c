"""Figure callbacks of the training claims of Meterez et al. 2024 (arXiv:2310.02012) (Figs. 4, 6,
F1, E1; drawn by the report, never by the judges)."""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.plotting import (legend, level_label, mean_band, pyplot,
                                                   save_figure)

_PAPER = "Meterez et al. (2024)"


def _depth_figure(cfg, res, ctrl, outdir):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r, col in ((res, "C0"), (ctrl, "C3")):
        if r is None:
            continue
        x = np.asarray(r.config["depths"], dtype=float)
        m, h = mean_band(np.log(np.maximum(r.evidence["iters"], 1.0)), res.verdict.alpha)
        lab = (f"{'control' if r.control else 'claim'}: {r.config['weights']}, "
               f"norm {r.config['norm']}")
        ax.plot(x, np.exp(m), "o-", color=col, label=lab)
        ax.fill_between(x, np.exp(m - h), np.exp(m + h), color=col, alpha=0.25)
    ax.axhline(cfg["steps"], color="grey", lw=0.6, ls=":", label="step budget (censoring)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("depth $L$")
    ax.set_ylabel(f"SGD steps to loss {cfg['threshold']} (geometric mean)")
    legend(ax, fontsize=7)
    fig.suptitle(f"{_PAPER}, Fig. 4: steps to a loss level vs depth — {res.verdict.verdict} "
                 f"({res.trials} trials; {level_label(res.verdict.alpha)})", fontsize=9)
    return [save_figure(fig, outdir, res.id)]


def _ortho_figure(cfg, res, ctrl, outdir):
    plt = pyplot()
    acts = cfg["activations"]
    fig, axes = plt.subplots(1, len(acts), figsize=(5 * len(acts), 4), squeeze=False)
    for i, act in enumerate(acts):
        ax = axes[0, i]
        for r, col in ((res, "C0"), (ctrl, "C3")):
            if r is None:
                continue
            G = np.log10(np.maximum(r.evidence[f"gap_{i}"], 1e-300))
            m, h = mean_band(G, res.verdict.alpha)
            x = np.arange(G.shape[1])
            ax.plot(x, m, "o-", color=col, ms=3,
                    label=f"{'control' if r.control else 'claim'}: {r.config['weights']} init")
            ax.fill_between(x, m - h, m + h, color=col, alpha=0.25)
        ax.set_xlabel("layer $l$ (0 = fc$_0$, last = readout)")
        ax.set_ylabel(r"$\log_{10}\phi(W_l)$ after training")
        ax.set_title(act, fontsize=9)
        legend(ax, fontsize=7)
    fig.suptitle(f"{_PAPER}, Fig. 6 / F1: weight isometry gap per layer — "
                 f"{res.verdict.verdict} ({res.trials} trials; "
                 f"{level_label(res.verdict.alpha)})", fontsize=9)
    return [save_figure(fig, outdir, res.id)]


def _rate_figure(cfg, res, ctrl, outdir):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r, col in ((res, "C0"), (ctrl, "C3")):
        if r is None:
            continue
        a = np.asarray(r.config["alphas"], dtype=float)
        for i, act in enumerate(r.config["activations"]):
            m, h = mean_band(r.evidence[f"rate_{i}"], res.verdict.alpha)
            ax.errorbar(a, m, yerr=h, fmt="o-", color=col, capsize=3,
                        label=f"{'control' if r.control else 'claim'}: {act}")
    a = np.asarray(cfg["alphas"], dtype=float)
    m0 = res.evidence["rate_0"].mean(axis=0)[-1]
    ax.plot(a, m0 * (a / a[-1]) ** res.prediction, "k--", lw=0.8,
            label=rf"$\propto\alpha^{{{res.prediction:g}}}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"constant gain $\alpha$")
    ax.set_ylabel("explosion rate (nats per layer)")
    legend(ax, fontsize=7)
    fig.suptitle(f"{_PAPER}, App. E / Fig. E1: explosion rate vs gain — {res.verdict.verdict} "
                 f"({res.trials} trials; {level_label(res.verdict.alpha)})", fontsize=9)
    return [save_figure(fig, outdir, res.id)]


def _shaped_figure(cfg, res, ctrl, outdir):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r, col, dx in ((res, "C0", -0.004), (ctrl, "C3", 0.004)):
        if r is None:
            continue
        ex = r.verdict.extra["exponents"]
        xs = np.asarray(r.config["exponents"], dtype=float)
        ratio = [ex[f"r={v:g}"]["ratio"] for v in xs]
        ci = np.array([ex[f"r={v:g}"]["ratio_ci"] for v in xs], dtype=float)
        ci = np.clip(ci, 1e-6, 1e3)
        ax.errorbar(xs + dx, ratio, yerr=[np.maximum(np.array(ratio) - ci[:, 0], 0),
                                          np.maximum(ci[:, 1] - np.array(ratio), 0)],
                    fmt="o", color=col, capsize=3,
                    label=f"{'control' if r.control else 'claim'}: {r.config['activation']}")
    xs = np.asarray(cfg["exponents"], dtype=float)
    ax.plot(xs, [res.verdict.extra["exponents"][f"r={v:g}"]["prediction"] for v in xs], "k_",
            ms=20, label=r"local-gain prediction ($R \propto \alpha^2$)")
    ax.set_yscale("log")
    ax.set_xlim(xs.min() - 0.05, xs.max() + 0.05)
    ax.set_xlabel("gain exponent $r$")
    ax.set_ylabel(r"$R_r / R_1$ over the window")
    legend(ax, fontsize=7)
    fig.suptitle(f"{_PAPER}, App. E / Fig. E2: rate reduction by the gain exponent — "
                 f"{res.verdict.verdict} ({res.trials} trials; {level_label(res.verdict.alpha)})",
                 fontsize=9)
    return [save_figure(fig, outdir, res.id)]


def _grad_train_figure(cfg, res, ctrl, outdir):
    """log‖∇W_l‖ against the layer at every checkpoint (claim, and control if run) and the
    judged window (Sec. 4 / Fig. 4: gradients during training)."""
    plt = pyplot()
    runs = [r for r in (res, ctrl) if r is not None]
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4), squeeze=False)
    for ax, r in zip(axes[0], runs):
        G = np.asarray(r.evidence["log_grad"], dtype=float)
        steps = r.config["checkpoints"]
        cols = plt.cm.viridis(np.linspace(0.0, 0.9, len(steps)))
        x = np.arange(G.shape[2])
        for j, t in enumerate(steps):
            m, h = mean_band(G[:, j], res.verdict.alpha)
            ax.plot(x, m, color=cols[j], lw=1.2, label=f"step {t}")
            ax.fill_between(x, m - h, m + h, color=cols[j], alpha=0.15)
        w0, w1 = r.config["window"]
        ax.axvspan(w0, w1, color="grey", alpha=0.08, label="judged window")
        rep = r.config.get("eval_repeat", 1)
        ax.set_title(f"{'control' if r.control else 'claim'}: {r.config['weights']} weights, "
                     f"batch rank n/{rep}" if rep > 1 else
                     f"{'control' if r.control else 'claim'}: {r.config['weights']} weights",
                     fontsize=9)
        ax.set_xlabel("layer $l$ (0 = fc$_0$)")
        ax.set_ylabel(r"$\log\|\nabla_{W_l} L\|_F$")
        legend(ax, fontsize=7)
    fig.suptitle(f"{_PAPER}, Sec. 4 / Fig. 4: gradients during SGD — {res.verdict.verdict} "
                 f"({res.trials} trials; {level_label(res.verdict.alpha)})", fontsize=9)
    return [save_figure(fig, outdir, res.id)]
