"""Figure callbacks of lcw.relu_mlp_shift and lcw.conv_shift (Kutsuna 2020, arXiv:2403.13833):
the shift fraction per layer, standard vs LCW; of lcw.relu_mlp_training and
lcw.conv_bn_training: the per-trial log-ratios ρ of the claim run and of its control (drawn by
the report, never by the judges)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from depthcheck.validation.claims.plotting import legend, pyplot, save_figure


def shift_figure(cfg, res, ctrl, outdir: Path):
    """Mean shift fraction R per layer (± 1 sd over trials) of both arms of the claim run."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for key, lab, col in (("R_standard", "standard weights", "C3"), ("R_lcw", "LCW", "C0")):
        R = res.evidence[key]
        x = np.arange(1, R.shape[1] + 1)
        mu, sd = R.mean(axis=0), R.std(axis=0)
        ax.plot(x, mu, "o-", color=col, label=f"{lab} (mean over {R.shape[0]} trials)")
        ax.fill_between(x, mu - sd, mu + sd, color=col, alpha=0.2, label=f"{lab}: ± 1 sd")
    if res.id == "lcw.relu_mlp_shift":
        ax.axhline(1 / np.pi, color="k", ls="--", lw=1, label="1/π (standard, layer 2)")
    ax.set_xlabel("layer")
    ax.set_ylabel("shift fraction R")
    ax.set_title(f"Kutsuna (2020): {res.id} — {res.verdict.verdict}", fontsize=9)
    legend(ax)
    return [save_figure(fig, outdir, res.id)]


def rho_figure(cfg, res, ctrl, outdir: Path):
    """Per-trial ρ = log(Ā_LCW/Ā_standard), one column per learning rate (``rho_j``) or the
    single ``rho``, for the claim run and (if it ran) the control."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    rng = np.random.default_rng(0)  # horizontal jitter only
    runs = [(res, "claim", "C0", 0.0)] + ([(ctrl, "control", "C3", 0.25)] if ctrl else [])
    labels = []
    for r, lab, col, off in runs:
        keys = sorted(k for k in r.evidence if k == "rho" or k.startswith("rho_"))
        lrs = r.config.get("lrs", [r.config.get("lr")])
        for j, k in enumerate(keys):
            v = np.asarray(r.evidence[k])
            x = j + off + 0.05 * rng.standard_normal(v.size)
            ax.plot(x, v, "o", ms=3, color=col, alpha=0.6,
                    label=f"{lab} ({r.config.get('activation', 'relu')}, "
                          f"{r.config.get('data', 'digits')})" if j == 0 else None)
            ax.plot([j + off - 0.1, j + off + 0.1], [v.mean()] * 2, "-", color=col, lw=2)
        labels = [f"lr {lr:g}" for lr in lrs] if len(lrs) == len(keys) else keys
    ax.axhline(0.0, color="k", lw=1)
    if "band" in cfg:
        for b in (-cfg["band"], cfg["band"]):
            ax.axhline(b, color="k", ls="--", lw=1)
    ax.set_xlim(-0.5, len(labels) - 0.25)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels)
    ax.set_ylabel("ρ = log(Ā_LCW / Ā_standard) per trial")
    ax.set_title(f"Kutsuna (2020): {res.id} — {res.verdict.verdict}", fontsize=9)
    legend(ax)
    return [save_figure(fig, outdir, res.id)]
