"""Figure callbacks of the statistical lemma claims of Daneshmand et al. 2020 (arXiv:2003.01652)
in ``claims_lemmas.py`` (Lemma 3(b) with uniform weights, Corollary 15, Lemma 5); drawn by the
report, never by the judges."""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.plotting import legend, level_label, mean_band, pyplot, save_figure
from depthcheck.validation.claims.stats import ratio_ci
from depthcheck.validation.papers.rank_collapse._common import _gname
from depthcheck.validation.papers.rank_collapse.lemma3_uniform import _tag as _u3_tag
from depthcheck.validation.papers.rank_collapse.lemma5_rank import _l5_configs, _tag as _l5_tag

_PAPER = "Daneshmand et al. (2020)"


def _save(fig, outdir, res, name):
    """Write ``fig`` as ``<claim id>.<name>.{pdf,png}`` and return the PNG path."""
    return save_figure(fig, outdir, f"{res.id}.{name}")


def _rate_panel(ax, res, confs, tag, sign, band, ylabel):
    """sign × slope / gap per configuration with its pointwise Fieller interval and the band."""
    alpha = res.verdict.alpha
    ev = res.evidence
    for i, c in enumerate(confs):
        t = tag(c)
        r = ratio_ci(sign * ev[f"slope_{t}"], ev[f"gap_{t}"], alpha)
        lo, hi = r.ci
        ax.errorbar([i], [r.estimate], yerr=[[r.estimate - lo], [hi - r.estimate]], marker="o",
                    capsize=3, color=f"C{i}")
    ax.axhspan(band[0], band[1], color="green", alpha=0.15, label="judged band")
    ax.set_xticks(range(len(confs)))
    ax.set_xticklabels([f"d={c['d']}, γ={_gname(c['gamma'])}" for c in confs], rotation=20,
                       fontsize=7)
    ax.set_ylabel(ylabel)
    legend(ax)


def _curves(ax, res, confs, tag, layers_of, style="-", label=True, gray=False):
    """Mean log(σ2/σ1) curves per configuration with pointwise bands."""
    alpha = res.verdict.alpha
    for i, c in enumerate(confs):
        Y = res.evidence[f"curve_{tag(c)}"]
        m, h = mean_band(Y, alpha)
        x = layers_of(c, Y.shape[1])
        col = "gray" if gray else f"C{i}"
        ax.plot(x, m, style, color=col,
                label=(f"d={c['d']}, γ={_gname(c['gamma'])}" if label else None))
        ax.fill_between(x, m - h, m + h, color=col, alpha=0.2)


def uniform_collapse_figure(cfg, res, ctrl, outdir):
    """Lemma 3(b): mean log(σ2/σ1)(H_l) of the vanilla chains against l with lines of slope
    −(μ̂1 − μ̂2) (the QR gap), and the judged rate/gap per configuration."""
    plt = pyplot()
    confs = cfg["configs"]

    def layers_of(c, k):
        return np.arange(c["depth"] - k + 1, c["depth"] + 1)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    _curves(axes[0], res, confs, _u3_tag, layers_of)
    for i, c in enumerate(confs):
        Y = res.evidence[f"curve_{_u3_tag(c)}"]
        x = layers_of(c, Y.shape[1])
        gap = float(res.evidence[f"gap_{_u3_tag(c)}"].mean())
        y0 = float(Y.mean(0)[0])
        axes[0].plot(x, y0 - gap * (x - x[0]), ":", color="k",
                     label=r"slope $-(\hat\mu_1-\hat\mu_2)$ (QR)" if i == 0 else None)
    if ctrl is not None:
        _curves(axes[0], ctrl, ctrl.config["configs"], _u3_tag, layers_of, style="--",
                label=False, gray=True)
        axes[0].plot([], [], "--", color="gray", label="Bn chain (control)")
    axes[0].set_xlabel("layer $l$")
    axes[0].set_ylabel(r"mean $\log(\sigma_2/\sigma_1)(H_l)$")
    axes[0].set_title(f"{_PAPER}, Lemma 3(b): vanilla chains, U[−√3, √3] weights", fontsize=9)
    legend(axes[0])
    half = cfg["delta"] / 2
    _rate_panel(axes[1], res, confs, _u3_tag, -1.0, (1 - half, 1 + half),
                r"$-$slope / $(\hat\mu_1-\hat\mu_2)$")
    axes[1].axhline(1.0, color="k", ls="--", lw=0.8)
    axes[1].set_title("collapse rate in units of the Lyapunov gap", fontsize=9)
    fig.suptitle(f"mean over trials, {level_label(res.verdict.alpha)} — {res.verdict.verdict}",
                 fontsize=9)
    return [_save(fig, outdir, res, "collapse_rate")]


def cor15_figure(cfg, res, ctrl, outdir):
    """Corollary 15: E r(H_l) / sharp bound at every judged layer, per width, with the judged
    lower limit 1 − δ/2; and E r(H_l) against the bound itself."""
    plt = pyplot()
    alpha = res.verdict.alpha
    layers = np.asarray(cfg["layers"], float)
    bound = res.prediction["bound"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, d in enumerate(cfg["widths"]):
        b = bound[str(d)]
        R = res.evidence[f"r_d{d}"]
        m, h = mean_band(R, alpha)
        axes[0].errorbar(layers, m, yerr=h, marker="o", capsize=3, color=f"C{i}",
                         label=f"$d = {d}$")
        axes[0].axhline(b, color=f"C{i}", ls="--", lw=0.8,
                        label=f"sharp bound, β = {cfg['beta_ref']}" if i == 0 else None)
        m, h = mean_band(R / b, alpha)
        axes[1].errorbar(layers, m, yerr=h, marker="o", capsize=3, color=f"C{i}",
                         label=f"$d = {d}$")
        if ctrl is not None and f"r_d{d}" in ctrl.evidence:
            axes[1].plot(layers, (ctrl.evidence[f"r_d{d}"] / b).mean(0), "x:", color="gray",
                         label="U[0, 2√3] weights (control)" if i == 0 else None)
    axes[1].axhline(res.prediction["ratio_lower_bound"], color="k", ls="--",
                    label="judged lower limit $1 - \\delta/2$")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("layer $l$")
        legend(ax)
    axes[0].set_ylabel("$\\mathbb{E}\\, r(H_l)$")
    axes[1].set_ylabel("$\\mathbb{E}\\, r(H_l)$ / sharp bound")
    axes[0].set_title(f"{_PAPER}, Cor. 15: $r(H_l)$ at finite layers, $\\gamma = {cfg['gamma']}$",
                      fontsize=9)
    axes[1].set_title("ratio to Theorem 14's bound", fontsize=9)
    fig.suptitle(f"mean over trials, {level_label(alpha)} — {res.verdict.verdict}", fontsize=9)
    return [_save(fig, outdir, res, "every_layer")]


def lemma5_figure(cfg, res, ctrl, outdir):
    """Lemma 5: mean log(σ2/σ1)(H_l) of BN chains (flat: no drift to rank one) with the vanilla
    rate −(μ̂1 − μ̂2) for reference and the control's collapse; and the judged rate/gap."""
    plt = pyplot()
    confs = _l5_configs(cfg)

    def layers_of(c, k):
        return np.arange(c["burn_in"] + 1, c["burn_in"] + 1 + k)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    _curves(axes[0], res, confs, _l5_tag, layers_of)
    for i, c in enumerate(confs):
        Y = res.evidence[f"curve_{_l5_tag(c)}"]
        x = layers_of(c, Y.shape[1])
        gap = float(res.evidence[f"gap_{_l5_tag(c)}"].mean())
        axes[0].plot(x, float(Y.mean(0)[0]) - gap * (x - x[0]), ":", color="k",
                     label="vanilla rate $-(\\hat\\mu_1-\\hat\\mu_2)$" if i == 0 else None)
    if ctrl is not None:
        _curves(axes[0], ctrl, _l5_configs(ctrl.config), _l5_tag, layers_of, style="--",
                label=False, gray=True)
        axes[0].plot([], [], "--", color="gray", label="U[0, 2√3] weights (control)")
    axes[0].axhline(res.prediction["log_ratio_floor"], color="k", lw=0.8,
                    label="judged floor log 1e-8")
    axes[0].set_xlabel("layer $l$ (after the transient)")
    axes[0].set_ylabel(r"mean $\log(\sigma_2/\sigma_1)(H_l)$")
    axes[0].set_title(f"{_PAPER}, Lemma 5: Bn chains, U[−√3, √3] weights", fontsize=9)
    legend(axes[0])
    _rate_panel(axes[1], res, confs, _l5_tag, -1.0, res.prediction["band"],
                r"$-$slope / $(\hat\mu_1-\hat\mu_2)$")
    axes[1].axhline(0.0, color="k", ls="--", lw=0.8)
    axes[1].set_title("collapse rate in units of the vanilla Lyapunov gap", fontsize=9)
    fig.suptitle(f"mean over trials, {level_label(res.verdict.alpha)} — {res.verdict.verdict}",
                 fontsize=9)
    return [_save(fig, outdir, res, "no_collapse")]
