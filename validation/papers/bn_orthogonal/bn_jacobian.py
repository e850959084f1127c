"""bn_orthogonal.bn_jacobian_bounds: spectrum and operator norm of the Bn Jacobian (Lemmas C.4,
C.8–C.11)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.nn.norms import norm_backward, norm_forward
from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory import bn_orthogonal as th
from depthcheck.theory.isometry import row_normalize
from depthcheck.validation.papers.bn_orthogonal._common import _part, fig1_input
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.bn_orthogonal._common import _g


def _vjp_jacobian(kind, Z, vjp="engine"):
    """The Jacobian ∂vec(Y)/∂vec(Z) of ``depthcheck.kernels.nn.norms`` norm ``kind`` at Z (d, n), assembled
    from the engine's vector-Jacobian product applied to every output basis vector.

    ``vjp="stop_gradient"`` assembles it instead from the classic wrong VJP that treats the
    normalising divisor as a constant (dZ = dY / scale, no projection): the control's data."""
    d, n = Z.shape
    Y, cache = norm_forward(kind, Z)
    m = d * n
    E = np.eye(m).reshape(m, d, n)
    if vjp == "stop_gradient":
        return (E / cache.scale).reshape(m, m)
    if vjp != "engine":
        raise ValueError(f"vjp must be 'engine' or 'stop_gradient', got {vjp!r}")
    batched = cache._replace(Y=np.broadcast_to(Y, (m, d, n)),
                             scale=np.broadcast_to(cache.scale, (m, d, 1)))
    # the VJP of output basis vector e_k is Jᵀe_k, i.e. row k of J
    return norm_backward(kind, batched, E).reshape(m, m)


def _jac_simulate(cfg, rng, n_trials, backend):
    d, n = cfg["d"], cfg["n"]
    B = n_trials
    spec_err = np.empty(B)
    op_margin = np.empty(B)
    op_identity = np.empty(B)
    lam_margin = np.empty((B, 3))
    for t in range(B):
        x = rng.standard_normal(n) * math.exp(rng.standard_normal())
        J = _vjp_jacobian("rownorm", x[None, :], cfg["vjp"])
        ev = np.sort(np.linalg.eigvalsh((J + J.T) / 2))
        spec_err[t] = (np.max(np.abs(ev - th.rownorm_jacobian_spectrum(x))) * np.linalg.norm(x)
                       + np.max(np.abs(J - J.T)) * np.linalg.norm(x))
        # X with unit-norm rows (= Bn of something), mildly to strongly correlated
        c = rng.uniform(0.0, 0.9)
        X = row_normalize((1 - c) * rng.standard_normal((d, n)) + c * rng.standard_normal((d, 1)))
        W = sample_orthogonal((), d, rng)
        H = W @ X
        Jb = _vjp_jacobian("rownorm", H, cfg["vjp"])
        opn = np.linalg.norm(Jb, 2)
        lam = np.linalg.eigvalsh(X @ X.T)
        bound = (th.rownorm_jacobian_opnorm_bound(X) if cfg["opnorm_bound"] == "lambda_min"
                 else 1.0 / math.sqrt(lam[-1]))
        op_margin[t] = (bound - opn) / bound
        op_identity[t] = abs(opn * np.min(np.linalg.norm(H, axis=1)) - 1.0)
        # Lemma C.11 on three trace-d Gram matrices: of X, of a Fig. 1 input, of a spiky spectrum
        spectra = [lam,
                   np.linalg.eigvalsh((lambda F: F @ F.T)(fig1_input(d, d, 0.005, rng))),
                   np.exp(3.0 * rng.standard_normal(d))]
        for s, lam_s in enumerate(spectra):
            lam_s = np.maximum(lam_s, 0.0) * (d / np.sum(lam_s))
            phi = float(np.log(np.mean(lam_s)) - np.mean(np.log(lam_s)))
            lb = float(th.lambda_min_lower_bound(phi, d))
            lam_margin[t, s] = (lam_s.min() - lb) / lb
    return {"spectrum_error": spec_err, "opnorm_margin": op_margin,
            "opnorm_identity_error": op_identity, "lambda_min_margin": lam_margin}


def _jac_judge(cfg, pred, ev, alpha):
    tol = cfg["tol"]
    fam = Family(alpha, 4)
    e = float(np.max(ev["spectrum_error"]))
    fam.add(**_part("Lemma C.9/C.10: max |eig(J_f) − {0, 1/||x||, ...}|·||x|| (+ asymmetry)",
                    "PASS" if e <= tol else "FAIL", e, (e, e), 0.0, tol - e))
    m = float(np.min(ev["opnorm_margin"]))
    which = "1/√λ_min(XXᵀ)" if cfg["opnorm_bound"] == "lambda_min" else "1/√λ_max(XXᵀ)"
    fam.add(**_part(f"Lemma C.4/C.8: min relative margin of ||J_Bn(WX)||_op <= {which}",
                    "PASS" if m >= -tol else "FAIL", m, (m, m), 0.0, m + tol))
    i = float(np.max(ev["opnorm_identity_error"]))
    fam.add(**_part("||J_Bn(H)||_op = max_i 1/||h_i|| (relative error)",
                    "PASS" if i <= tol else "FAIL", i, (i, i), 0.0, tol - i))
    lm = float(np.min(ev["lambda_min_margin"]))
    fam.add(**_part("Lemma C.11: min relative margin of λ_min >= exp(−1 − dφ)",
                    "PASS" if lm >= -tol else "FAIL", lm, (lm, lm), 0.0, lm + tol))
    what = (f"Jacobians assembled from "
            f"{'depthcheck.kernels.nn.norms' if cfg['vjp'] == 'engine' else 'a stop-gradient (wrong)'}"
            f" VJP on basis vectors (d = {cfg['d']}, "
            f"n = {cfg['n']}, {len(ev['spectrum_error'])} random cases, tolerance {tol}); "
            f"tightest λ_min/exp(−1−dφ) − 1 = {lm:.3g}, tightest op-norm margin {m:.3g}")
    return fam.verdict(fam.summary(what, fmt=_g), prediction=0.0)
