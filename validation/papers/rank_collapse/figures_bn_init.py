"""Figure callback of the Daneshmand et al. 2020 (arXiv:2003.01652) claims on BN's initialisation
and pre-training against BN (Sec. 4, Fig. 6): training loss and r(H) over SGD steps per arm, as
the paper's Fig. 6 draws them; drawn by the report, never by the judges."""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.plotting import legend, mean_band, pyplot, save_figure


def fig6_figure(cfg, res, ctrl, outdir):
    """Fig. 6 analogue: mean training loss and r(H_{L−1}) with their bands over SGD steps."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for slot, arm in zip(("ref", "test"), cfg["arms"]):
        for ax, key in zip(axes, ("loss", "rank")):
            Y = res.evidence[f"{key}_{slot}"]
            steps = np.arange(Y.shape[1]) * cfg["eval_every"]
            m, h = mean_band(Y, res.verdict.alpha)
            ax.errorbar(steps, m, yerr=h, marker="o", capsize=3, label=arm)
    axes[0].set_ylabel("training loss (nats)")
    axes[1].set_ylabel("r(H) of the last hidden layer")
    for ax in axes:
        ax.set_xlabel("SGD step")
        legend(ax)
    fig.suptitle(f"Daneshmand et al. (2020), Fig. 6 on digits, depth {cfg['depth']}, "
                 f"width {cfg['width']}")
    return [save_figure(fig, outdir, f"{res.id}.fig6")]
