"""Figure callbacks of the Basu, Mukherjee & Vasudevan 2019 (arXiv:1904.10689) claims (drawn by the
report, never by the judges)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from depthcheck.validation.claims.plotting import legend, level_label, mean_band, pyplot, save_figure

_PAPER = "Basu et al. (2019)"


def _balance_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    etas = np.asarray(cfg["etas"])
    for r, lab, col in ((res, "GD (claim)", "C0"), (ctrl, "per-layer η (control)", "C3")):
        if r is None:
            continue
        d = r.evidence["drift"]
        ax.loglog(etas, d.T, color=col, alpha=0.15, lw=0.8)
        ax.loglog(etas, np.exp(np.log(d).mean(0)), "o-", color=col,
                  label=f"{lab}: geometric mean, slope {r.verdict.statistic:.3f}")
    d0 = np.exp(np.log(res.evidence["drift"]).mean(0))
    ax.loglog(etas, d0[-1] * etas / etas[-1], "k--", label=r"$\propto \eta$ (theory)")
    ax.set_xlabel(r"step size $\eta$ (fixed $T = \mathrm{steps}\cdot\eta$)")
    ax.set_ylabel(r"$\sum_l \|D_l(T) - D_l(0)\|_F$")
    ax.set_title(f"{_PAPER}, Thm 1: balance drift of a 5-layer linear net — "
                 f"{res.verdict.verdict}\n(thin lines: single trials)", fontsize=9)
    legend(ax)
    return [save_figure(fig, outdir, res.id)]


def _growth_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    paths = []
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for row, (r, lab) in enumerate(((res, "GD"), (ctrl, "per-layer η (control)"))):
        if r is None:
            continue
        ev = r.evidence
        t = ev["t"][0]
        for col, name in enumerate(("3", "5")):
            ax = axes[row, col]
            F = ev[f"F_glorot_{name}"][0]  # (n_rec, N) of trial 0
            for l in range(F.shape[1]):
                ax.plot(t, F[:, l], color=f"C{l}", label=f"$\\|W_{{{l + 1}}}\\|_F^2$")
                if l:
                    ax.plot(t, F[:, l] - F[:, l - 1], color=f"C{l}", ls=":",
                            label=f"$\\|W_{{{l + 1}}}\\|_F^2 - \\|W_{{{l}}}\\|_F^2$")
            Fb = ev[f"F_balanced_{name}"][0]
            ax.plot(t, Fb, color="k", lw=0.8, ls="--", label="balanced init")
            ax.set_title(f"{F.shape[1] + 1}-layer net, {lab} (trial 0)", fontsize=9)
            ax.set_xlabel(r"$t = \mathrm{steps}\cdot\eta$")
            legend(ax, fontsize=6)
        ax = axes[row, 2]
        ratio, pred = ev["ratio"][0], ev["ratio_pred"][0]  # (n_rec, N-1, r)
        for l in range(ratio.shape[1]):
            for a in range(ratio.shape[2]):
                ax.plot(t, ratio[:, l, a], color=f"C{a}", lw=1)
                ax.plot(t, pred[:, l, a], color="k", lw=0.6, ls="--")
        ax.axhline(1.0, color="grey", lw=0.5)
        ax.set_title(f"per-mode ratios $a_{{l+1}}/a_l$, {lab}", fontsize=9)
        ax.set_xlabel(r"$t = \mathrm{steps}\cdot\eta$")
    fig.suptitle(f"{_PAPER}, Fig. 1 — {res.verdict.verdict}: squared layer norms, Glorot init "
                 r"(colour; dotted: balance gap $\|W_{l+1}\|_F^2 - \|W_l\|_F^2$) and balanced "
                 "init (black dashed)\nright: per-mode ratios $a_{l+1}/a_l$ vs "
                 r"$\sqrt{1 + c/a_l^2}$ (black dashed); one trial, no interval", fontsize=10)
    paths.append(save_figure(fig, outdir, res.id))
    return paths


def _saxe_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    depths = cfg["depths"]
    fig, axes = plt.subplots(2, len(depths) + 1, figsize=(3.4 * (len(depths) + 1), 6.5))
    for row, (r, lab) in enumerate(((res, "balanced"), (ctrl, "unbalanced (control)"))):
        if r is None:
            continue
        ev = r.evidence
        grid = ev["grid"][0]
        for i, N_l in enumerate(depths):
            ax = axes[row, i]
            for a in range(ev["traj"].shape[-1]):
                ax.plot(grid, ev["traj_theory"][0, i, :, a], color=f"C{a}", lw=1.2)
                ax.plot(grid, ev["traj"][0, i, :, a], "o", color=f"C{a}", ms=2.5)
            ax.set_title(f"$N_l = {N_l}$, {lab}", fontsize=9)
            ax.set_xlabel(r"$t/\tau$")
            if i == 0:
                ax.set_ylabel(r"$u_\alpha(t)/s_\alpha$ (dots GD, lines theory)")
        ax = axes[row, -1]
        m, h = mean_band(ev["t_learn_gd"], res.verdict.alpha)
        ax.plot(depths, ev["t_learn_theory"].mean(0), "k-", label="theory (mean over trials)")
        ax.errorbar(depths, m, yerr=h, fmt="o", color="C3", capsize=3, label="GD (mean, interval)")
        ax.set_xlabel("$N_l$ (layers of units)")
        ax.set_ylabel(r"time to reach $0.9\,s$ ($\tau$ units)")
        legend(ax)
    fig.suptitle(f"{_PAPER}, Cor. 2.4 / Thm 3: Saxe et al. mode dynamics — "
                 f"{res.verdict.verdict} (trajectories: trial 0; {level_label(res.verdict.alpha)})",
                 fontsize=10)
    return [save_figure(fig, outdir, res.id)]


def _relu_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ev = res.evidence
    t, Fw = ev["t"][0], ev["Fw"]
    L = Fw.shape[-1]
    for l in range(L):
        axes[0].plot(t, Fw[0, :, l], color=f"C{l}", label=f"$\\|W_{{{l + 1}}}\\|_F^2$")
        axes[0].plot(t, np.sqrt(Fw[0, :, l]), color=f"C{l}", ls=":", lw=0.8)
    axes[0].set_title(r"bias-free ReLU, trial 0: $\|W_l\|_F^2$ (solid), $\|W_l\|_F$ (dotted)",
                      fontsize=9)
    legend(axes[0], fontsize=6)
    d = np.diff(Fw, axis=-1)
    for l in range(L - 1):
        m, h = mean_band(d[:, :, l] - d[:, :1, l], res.verdict.alpha)
        axes[1].plot(t, m, color=f"C{l}", label=f"$l = {l + 1}$")
        axes[1].fill_between(t, m - h, m + h, color=f"C{l}", alpha=0.2)
    axes[1].set_title(r"bias-free: mean of $\mathrm{tr}\,D_l(t) - \mathrm{tr}\,D_l(0)$"
                      f"\n{level_label(res.verdict.alpha)}", fontsize=9)
    legend(axes[1], fontsize=6)
    if ctrl is not None:
        evc = ctrl.evidence
        dc = np.diff(evc["Fw"], axis=-1)
        cc = dc - evc["Fb"][..., :-1]
        for l in range(L - 1):
            axes[2].plot(t, (dc[:, :, l] - dc[:, :1, l]).mean(0), color=f"C{l}",
                         label=f"weights only, $l = {l + 1}$")
            axes[2].plot(t, (cc[:, :, l] - cc[:, :1, l]).mean(0), color=f"C{l}", ls="--")
        axes[2].set_title("with biases (control): weight-only drift (solid), "
                          r"$-\|b_l\|^2$ corrected (dashed)", fontsize=8)
        legend(axes[2], fontsize=6)
    for ax in axes:
        ax.set_xlabel(r"$t = \mathrm{steps}\cdot\eta$")
    fig.suptitle(f"{_PAPER}, Sec. 3 / Conj. 4 vs Du, Hu & Lee (2018): ReLU balance on digits — "
                 f"{res.verdict.verdict}")
    return [save_figure(fig, outdir, res.id)]
