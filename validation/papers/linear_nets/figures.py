"""Figure callbacks of the Basu, Mukherjee & Vasudevan 2019 (arXiv:1904.10689) claims (drawn by the
report, never by the judges)."""
from __future__ import annotations

from pathlib import Path


import numpy as np
from depthcheck.validation.claims.plotting import pyplot



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
                  label=f"{lab}: slope {r.verdict.statistic:.3f}")
    d0 = np.exp(np.log(res.evidence["drift"]).mean(0))
    ax.loglog(etas, d0[-1] * etas / etas[-1], "k--", label="∝ η (theory)")
    ax.set_xlabel("step size η (fixed T = steps·η)")
    ax.set_ylabel("Σ_l ||D_l(T) − D_l(0)||_F")
    ax.set_title("Balance drift of a 5-layer linear net (Basu et al. 2019, Thm 1)")
    ax.legend(fontsize=8)
    p = outdir / "seed003_balance_drift.png"
    fig.tight_layout()
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return [p]


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
                ax.plot(t, F[:, l], color=f"C{l}", label=f"||W_{l + 1}||²")
                if l:
                    ax.plot(t, F[:, l] - F[:, l - 1], color=f"C{l}", ls=":",
                            label=f"||W_{l + 1}||² − ||W_{l}||²")
            Fb = ev[f"F_balanced_{name}"][0]
            ax.plot(t, Fb, color="k", lw=0.8, ls="--")
            ax.set_title(f"{F.shape[1] + 1}-layer net, {lab}", fontsize=9)
            ax.set_xlabel("t = steps·η")
            ax.legend(fontsize=6, ncol=2)
        ax = axes[row, 2]
        ratio, pred = ev["ratio"][0], ev["ratio_pred"][0]  # (n_rec, N-1, r)
        for l in range(ratio.shape[1]):
            for a in range(ratio.shape[2]):
                ax.plot(t, ratio[:, l, a], color=f"C{a}", lw=1)
                ax.plot(t, pred[:, l, a], color="k", lw=0.6, ls="--")
        ax.axhline(1.0, color="grey", lw=0.5)
        ax.set_title(f"per-mode ratios a_(l+1)/a_l, {lab}", fontsize=9)
        ax.set_xlabel("t = steps·η")
    fig.suptitle("Basu et al. 2019, Fig. 1: squared layer norms, Glorot init (colour; dotted: "
                 "balance gap ||W_(l+1)||² − ||W_l||²) and balanced init (black dashed)\nright: "
                 "per-mode ratios a_(l+1)/a_l vs √(1 + c/a_l²) (black dashed)", fontsize=10)
    fig.tight_layout()
    p = outdir / "seed003_equal_growth.png"
    fig.savefig(p, dpi=100)
    plt.close(fig)
    paths.append(p)
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
            ax.set_title(f"N_l = {N_l}, {lab}", fontsize=9)
            ax.set_xlabel("t/τ")
            if i == 0:
                ax.set_ylabel("u_α(t)/s_α (dots GD, lines theory)")
        ax = axes[row, -1]
        ax.plot(depths, ev["t_learn_theory"].mean(0), "k-", label="theory (mean over trials)")
        ax.plot(depths, ev["t_learn_gd"].mean(0), "o", color="C3", label="GD")
        ax.set_xlabel("N_l (layers of units)")
        ax.set_ylabel("time to reach 0.9 s (τ units)")
        ax.legend(fontsize=7)
    fig.suptitle("Saxe et al. mode dynamics (Basu et al. 2019, Cor. 2.4, Thm 3 template)")
    fig.tight_layout()
    p = outdir / "seed003_saxe_dynamics.png"
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return [p]


def _relu_figure(cfg, res, ctrl, outdir: Path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ev = res.evidence
    t, Fw = ev["t"][0], ev["Fw"]
    L = Fw.shape[-1]
    for l in range(L):
        axes[0].plot(t, Fw[0, :, l], color=f"C{l}", label=f"||W_{l + 1}||²")
        axes[0].plot(t, np.sqrt(Fw[0, :, l]), color=f"C{l}", ls=":", lw=0.8)
    axes[0].set_title("bias-free ReLU, trial 0: ||W_l||² (solid), ||W_l|| (dotted)", fontsize=9)
    axes[0].legend(fontsize=6)
    d = np.diff(Fw, axis=-1)
    for l in range(L - 1):
        m = (d[:, :, l] - d[:, :1, l]).mean(0)
        axes[1].plot(t, m, color=f"C{l}", label=f"l={l + 1}")
    axes[1].set_title("bias-free: mean of tr D_l(t) − tr D_l(0)", fontsize=9)
    axes[1].legend(fontsize=6)
    if ctrl is not None:
        evc = ctrl.evidence
        dc = np.diff(evc["Fw"], axis=-1)
        cc = dc - evc["Fb"][..., :-1]
        for l in range(L - 1):
            axes[2].plot(t, (dc[:, :, l] - dc[:, :1, l]).mean(0), color=f"C{l}",
                         label=f"weights only, l={l + 1}")
            axes[2].plot(t, (cc[:, :, l] - cc[:, :1, l]).mean(0), color=f"C{l}", ls="--")
        axes[2].set_title("with biases (control): weight-only drift (solid), "
                          "− ||b_l||² corrected (dashed)", fontsize=8)
        axes[2].legend(fontsize=6)
    for ax in axes:
        ax.set_xlabel("t = steps·η")
    fig.suptitle("ReLU balance on digits (Basu et al. 2019, Sec. 3 / Conj. 4 vs Du, Hu & Lee 2018)")
    fig.tight_layout()
    p = outdir / "seed003_relu_balance.png"
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return [p]
