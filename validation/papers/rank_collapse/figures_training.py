"""Figure callbacks of the Daneshmand et al. 2020 (arXiv:2003.01652) training claims (Fig. 1,
Fig. 10, Algorithm 1 / Figs. 4, 6); drawn by the report, never by the judges."""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.plotting import legend, mean_band, pyplot, save_figure


def _save(fig, outdir, res, name):
    return save_figure(fig, outdir, f"{res.id}.{name}")


def fig1_figure(cfg, res, ctrl, outdir):
    """Fig. 1: r(H) at initialisation and best-of-grid training accuracy against depth."""
    from depthcheck.validation.papers.rank_collapse.training_rank import ARM_NAMES, best_accuracy
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    acc, _ = best_accuracy(res.evidence)
    depths = np.asarray(cfg["depths"], float)
    for a, norm in enumerate(cfg["arms"]):
        name = ARM_NAMES.get(norm, norm)
        for ax, Y in ((axes[0], res.evidence["r_init"][:, a, :]), (axes[1], acc[:, a, :])):
            m, h = mean_band(Y, res.verdict.alpha)
            ax.errorbar(depths, m, yerr=h, marker="o", capsize=3, label=name)
    axes[0].set_ylabel("r(H) of the last hidden layer at init")
    axes[1].set_ylabel("training accuracy (best step size)")
    for ax in axes:
        ax.set_xlabel("hidden layers")
        ax.set_xscale("log", base=2)
        legend(ax)
    fig.suptitle("Daneshmand et al. (2020), Fig. 1 on digits")
    return [_save(fig, outdir, res, "fig1")]


def fig10_figure(cfg, res, ctrl, outdir):
    """Fig. 10 analogue: mean |cos| of per-sample gradients, at init and after SGD."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    keys = [k for k in ("align_init_vanilla", "align_trained_vanilla", "align_init_bn",
                        "align_trained_bn") if k in res.evidence]
    for i, k in enumerate(keys):
        m, h = mean_band(res.evidence[k][:, None], res.verdict.alpha)
        ax.errorbar([i], m, yerr=h, marker="o", capsize=3)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([k.replace("align_", "") for k in keys], rotation=20)
    ax.set_ylabel("mean |cos| of per-sample gradients")
    ax.set_ylim(0, 1.05)
    fig.suptitle("Daneshmand et al. (2020), Fig. 10 (MLP analogue)")
    return [_save(fig, outdir, res, "fig10")]


def pretraining_figure(cfg, res, ctrl, outdir):
    """Figs. 4 / 6: training loss and r(H) over SGD steps per arm."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    steps = np.arange(0, cfg["steps"] + 1, cfg["eval_every"])
    for arm in cfg["arms"]:
        for ax, key in zip(axes, ("loss", "rank")):
            Y = res.evidence[f"{key}_{arm}"]
            m, h = mean_band(Y, res.verdict.alpha)
            ax.errorbar(steps[:Y.shape[1]], m, yerr=h, marker="o", capsize=3, label=arm)
    axes[0].set_ylabel("training loss (nats)")
    axes[1].set_ylabel("r(H) of the last hidden layer")
    for ax in axes:
        ax.set_xlabel("SGD step")
        legend(ax)
    fig.suptitle(f"Daneshmand et al. (2020), Algorithm 1, depth {cfg['depth']}")
    return [_save(fig, outdir, res, "pretraining")]
