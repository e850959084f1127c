"""bn_orthogonal.lemma_b1_spectral_bounds (Lemmas B.1, C.11 second inequality, the spectral step
of B.2; exact) and bn_orthogonal.gradient_chain_rule_bound (Lemmas C.2 and C.12; exact) of
Meterez et al. 2024 (arXiv:2310.02012); derivations in docs/derivations/bn_lemmas.md."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.random.haar import sample_orthogonal, sample_stiefel
from depthcheck.theory import bn_lemmas as tl
from depthcheck.theory.isometry import row_normalize
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.bn_orthogonal._common import _g, _part

# ------------------------------------------------------------ Lemma B.1 / C.11 / B.2 (exact)

#: log-normal spreads of the random spectra: near isometry to a gap of several nats
_B1_SPREADS = (1e-3, 1e-2, 0.1, 0.5, 1.0, 3.0)


def _b1_spectra(d, c, rng, trace_scale):
    """c spectra per spread (log-normal, one spike, one near-zero eigenvalue), rescaled to mean
    ``trace_scale`` (1 = trace-normalised, the lemma's assumption)."""
    out = []
    for s in _B1_SPREADS:
        lam = np.exp(s * rng.standard_normal((c, d)))
        out.append(lam)
        spike = np.ones((c, d))                       # one large eigenvalue
        spike[:, 0] = 1.0 + s * d * rng.random(c)
        out.append(spike)
        low = np.ones((c, d)) + 0.1 * s * rng.standard_normal((c, d)) ** 2
        low[:, 0] = np.exp(-s * 10 * rng.random(c))   # one small eigenvalue
        out.append(low)
    lam = np.concatenate(out)
    return lam * (trace_scale * d / lam.sum(axis=1, keepdims=True))


def _b1_simulate(cfg, rng, n_trials, backend):
    out = {}
    for d in cfg["sizes"]:
        m = 3 * len(_B1_SPREADS) * cfg["cases"]
        lo_m, hi_m, s_m, c11 = (np.empty((n_trials, m)) for _ in range(4))
        for t in range(n_trials):
            lam = _b1_spectra(d, cfg["cases"], rng, cfg["trace_scale"])
            # φ from the eigenvalues (scale invariant): log AM − mean log
            phi = np.log(lam.mean(axis=1)) - np.log(lam).mean(axis=1)
            lo, hi = tl.lemma_b1_eigenvalue_interval(phi, d)
            lo_m[t] = lam.min(axis=1) - lo
            hi_m[t] = (hi - lam.max(axis=1)) / hi
            S = np.sum((lam - 1.0) ** 2, axis=1)
            bound = tl.spectral_deviation_lower_bound(phi, d)
            s_m[t] = (S - bound) / np.maximum(bound, 1e-300)
            # Lemma C.11 (second inequality): φ <= 1/(8d) implies λ_min >= 1/2
            c11[t] = np.where(phi <= 1.0 / (8 * d), lam.min(axis=1) - 0.5, np.inf)
        out[f"b1_lower_margin_{d}"] = lo_m
        out[f"b1_upper_margin_{d}"] = hi_m
        out[f"b2_spectral_margin_{d}"] = s_m
        out[f"c11_margin_{d}"] = c11
    return out


def _b1_inf_keys(sizes):
    return tuple(f"c11_margin_{d}" for d in sizes)


def _b1_judge(cfg, pred, ev, alpha):
    tol = cfg["tol"]
    fam = Family(alpha, 4 * len(cfg["sizes"]))
    for d in cfg["sizes"]:
        for key, name in (("b1_lower_margin", "B.1: min λ_min − (1 − √(2dφ))"),
                          ("b1_upper_margin", "B.1: min [1 + dφ + √(2dφ+(dφ)²) − λ_max]/bound"),
                          ("b2_spectral_margin", "B.2 step: min [Σ(λ−1)² − min(dφ, 1/4)]/bound"),
                          ("c11_margin", "C.11(ii): min λ_min − 1/2 where φ <= 1/(8d)")):
            m = ev[f"{key}_{d}"]
            w = float(np.min(m))
            if not math.isfinite(w):                 # no case with φ <= 1/(8d)
                w = 1.7e308
            fam.add(**_part(f"d = {d}: {name}", "PASS" if w >= -tol else "FAIL", w, (w, w),
                            0.0, w + tol))
    what = (f"Lemma B.1 (every eigenvalue within [1 − √(2dφ), 1 + dφ + √(2dφ + (dφ)²)]), Lemma "
            f"C.11's second inequality (φ <= 1/(8d) ⇒ λ_min >= 1/2) and the spectral step of "
            f"Lemma B.2 (Σ(λ−1)² >= min(dφ, 1/4)), all derived in docs/derivations/bn_lemmas.md, "
            f"on {3 * len(_B1_SPREADS) * cfg['cases']} random spectra per trial with mean "
            f"eigenvalue {cfg['trace_scale']:g}, d ∈ {cfg['sizes']} (tolerance {tol:g})")
    return fam.verdict(fam.summary(what, fmt=_g), prediction=0.0)


# --------------------------------------------------------------- Lemmas C.2 and C.12 (exact)

def _c12_network(cfg, rng, B):
    d, n, L, k = cfg["d"], cfg["n"], cfg["depth"], cfg["n_out"]
    if cfg["weights"] == "haar":
        hidden = [sample_orthogonal((B,), d, rng) for _ in range(L)]
    else:                                             # the control: Gaussian N(0, 1/d)
        hidden = [rng.standard_normal((B, d, d)) / math.sqrt(d) for _ in range(L)]
    out = np.swapaxes(sample_stiefel((B,), d, k, rng), -1, -2)
    if cfg["readout"] == "gaussian":                  # the control: a readout that is not
        out = rng.standard_normal((B, k, d))          # orthonormal (entries N(0, 1))
    # a non-degenerate input of varied conditioning and scale (not normalised)
    X = rng.standard_normal((B, d, n)) * np.exp(rng.standard_normal((B, d, 1)))
    return X, hidden + [out]


def _c12_simulate(cfg, rng, n_trials, backend):
    """Per random network: ||∂L/∂Z||_F against Lemma C.2's bound (xent and mse), the engine's
    ∇W_l against a central finite difference (C.12's formula ∇W_l = δ_l X_{l−1}ᵀ), and
    log||∇W_l||_F against C.12's chain-rule bound."""
    d, n, L, k = cfg["d"], cfg["n"], cfg["depth"], cfg["n_out"]
    B = n_trials
    X, Ws = _c12_network(cfg, rng, B)
    labels = rng.integers(0, k, size=n)
    Y = rng.standard_normal((B, k, n))
    # forward by hand: A_l = W_l H_{l-1}, H_l = Bn(A_l), Z = W_out H_L
    H = [X]
    jac_log = []                                      # log ||J_Bn(A_l)||_op = −log min_i ||a_i||
    for W in Ws[:-1]:
        A = W @ H[-1]
        jac_log.append(-np.log(np.min(np.linalg.norm(A, axis=-1), axis=-1)))
        H.append(row_normalize(A))
    Z = Ws[-1] @ H[-1]
    P = np.exp(Z - Z.max(axis=-2, keepdims=True))
    P /= P.sum(axis=-2, keepdims=True)
    dZ_x = (P - np.eye(k)[:, labels]) / n
    dZ_m = 2.0 * (Z - Y) / (k * n)
    ev = {"c2_xent_margin": tl.xent_logit_gradient_bound(n) - np.linalg.norm(dZ_x, axis=(-2, -1)),
          "c2_mse_margin": np.array([tl.mse_logit_gradient_bound(d, n, k, float(np.linalg.norm(y)))
                                     for y in Y]) - np.linalg.norm(dZ_m, axis=(-2, -1))}
    for loss, dZ in (("xent", dZ_x), ("mse", dZ_m)):
        target = labels if loss == "xent" else Y
        _, grads = forward_backward(X, Ws, target, norm="rownorm", activation="identity",
                                    loss=loss)
        margins = np.empty((B, L))
        for l in range(1, L + 1):                     # hidden layer l has weights Ws[l-1]
            g = np.log(np.linalg.norm(grads[l - 1], axis=(-2, -1)))
            bound = (np.log(np.linalg.norm(dZ, axis=(-2, -1)))
                     + sum(jac_log[j - 1] for j in range(l, L + 1))
                     + np.log(np.linalg.norm(H[l - 1], ord=2, axis=(-2, -1))))
            margins[:, l - 1] = bound - g
        ev[f"c12_{loss}_margin"] = margins
        # central finite difference of the loss along a random unit direction E of W_1
        E = rng.standard_normal((B, d, d))
        E /= np.linalg.norm(E, axis=(-2, -1), keepdims=True)
        eps = cfg["fd_eps"]
        lp, _ = forward_backward(X, [Ws[0] + eps * E] + Ws[1:], target, norm="rownorm",
                                 activation="identity", loss=loss)
        lm, _ = forward_backward(X, [Ws[0] - eps * E] + Ws[1:], target, norm="rownorm",
                                 activation="identity", loss=loss)
        fd = (lp - lm) / (2 * eps)
        an = np.sum(grads[0] * E, axis=(-2, -1))
        ev[f"c12_{loss}_fd_error"] = np.abs(fd - an) / np.linalg.norm(grads[0], axis=(-2, -1))
    return ev


def _c12_judge(cfg, pred, ev, alpha):
    tol, fd_tol = cfg["tol"], cfg["fd_tol"]
    fam = Family(alpha, 6)
    for key, name in (("c2_xent_margin", "C.2 (xent): min √(2/n) − ||∂L/∂Z||_F"),
                      ("c2_mse_margin", "C.2 (mse): min 2(√d + ||Y||)/(n_out n) − ||∂L/∂Z||_F"),
                      ("c12_xent_margin", "C.12 (xent): min chain-rule bound − log||∇W_l||_F"),
                      ("c12_mse_margin", "C.12 (mse): min chain-rule bound − log||∇W_l||_F")):
        w = float(np.min(ev[key]))
        fam.add(**_part(name, "PASS" if w >= -tol else "FAIL", w, (w, w), 0.0, w + tol))
    for loss in ("xent", "mse"):
        e = float(np.max(ev[f"c12_{loss}_fd_error"]))
        fam.add(**_part(f"C.12 ({loss}): max |finite difference − ⟨∇W_1, E⟩|/||∇W_1||",
                        "PASS" if e <= fd_tol else "FAIL", e, (e, e), 0.0, fd_tol - e))
    what = (f"Lemma C.2 (||∂L/∂Z||_F bounded whatever the logits) and Lemma C.12 (log||∇_{{W_l}}L||_F "
            f"<= log||∂L/∂Z||_F + Σ_{{k>=l}} log||J_Bn(H_k)||_op + log||X_{{l−1}}||_op, using "
            f"||W||_op = 1) on {len(ev['c2_xent_margin'])} random networks with "
            f"{cfg['weights']} hidden weights and a {cfg['readout']} readout (d = n = {cfg['d']}, {cfg['depth']} hidden layers, "
            f"{cfg['n_out']} outputs, the paper's Bn, identity activation), the engine's "
            f"gradient also against central finite differences (tolerance {tol:g}; "
            f"{fd_tol:g} for the finite differences)")
    return fam.verdict(fam.summary(what, fmt=_g), prediction=0.0)
