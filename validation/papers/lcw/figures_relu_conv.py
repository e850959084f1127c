"""Figure callbacks of lcw.relu_mlp_shift and lcw.conv_shift (Kutsuna 2020, arXiv:2403.13833):
the shift fraction per layer, standard vs LCW (drawn by the report, never by the judges)."""
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
