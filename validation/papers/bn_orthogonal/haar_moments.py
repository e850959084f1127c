"""bn_orthogonal.haar_sampler_moments: every Haar path the chains draw their weights from vs exact
Weingarten moments of O(d).

Paths (the ``paths`` configuration key):

* ``qr``                  ``depthcheck.kernels.random.haar.sample_orthogonal`` (Gaussian QR with
                          Mezzadri's sign fix), the sampler of the one-step and lemma claims;
* ``householder``         ``haar_householder_vectors`` + ``apply_householder_haar`` (Stewart's
                          construction W = P_1 ⋯ P_{d-1} D), what the numpy chain engine applies;
* ``householder_matrix``  ``depthcheck.kernels.backends.numpy.householder_matrix`` (the same W
                          formed with LAPACK's dorgqr, used by the numpy engine's backward pass);
* ``numba_philox``        ``depthcheck.kernels.backends.numba.wy.apply_haar_philox``: the fused
                          numba kernels' Haar layer (Householder vectors from Philox streams,
                          blocked compact-WY application);
* ``cuda_stream``         the same layer with the Box–Muller transform (``method="box_muller"``):
                          the random numbers and Householder vectors the CUDA kernels draw
                          (``tests/kernels/test_cuda_chain.py`` asserts the CUDA kernels equal
                          this numba path to rounding under numba's CUDA simulator).

``drop_sign_fix`` (a path name, "all" or "none") makes the named path(s) omit their sign
randomisation, the classic sampler bug: numpy's raw QR factor for ``qr``; the reflector product
P_1 ⋯ P_{d-1} without D for the Householder paths (the sampler's own output times D, D² = I).
"""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.random.haar import (apply_householder_haar, haar_householder_vectors,
                                            sample_orthogonal)
from depthcheck.kernels.random.moments import random_monomials
from depthcheck.theory.weingarten import haar_moment_orthogonal
from depthcheck.validation.claims.stats import Family, t_quantile
from depthcheck.validation.papers.bn_orthogonal._common import _g

#: The Haar paths this claim checks, in report order.
HAAR_PATHS = ("qr", "householder", "householder_matrix", "numba_philox", "cuda_stream")


def _monomials(cfg):
    """The fixed monomial set (the same in every chunk and mutation), from ``monomial_seed``."""
    rng = np.random.default_rng(int(cfg["monomial_seed"]))
    return random_monomials(cfg["d"], rng, n_monomials=cfg["monomials"],
                            max_degree=cfg["max_degree"])


def _haar_predict(cfg):
    return [float(haar_moment_orthogonal(r, c, cfg["d"])) for r, c in _monomials(cfg)]


def _signs_D(V):
    """D = diag(-s_1, ..., -s_{d-1}, s_d), s_k = sign(x_k[0]) (sign(0) = +1), of packed vectors."""
    s = np.where(np.diagonal(V, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)
    D = -s
    D[..., -1] = s[..., -1]
    return D


def _draw(path, n, d, rng, drop):
    """n matrices (n, d, d) from ``path``; ``drop`` removes its sign randomisation."""
    if path == "qr":
        if drop:
            return np.linalg.qr(rng.standard_normal((n, d, d)))[0]
        return sample_orthogonal((n,), d, rng)
    if path in ("householder", "householder_matrix"):
        V = haar_householder_vectors((n,), d, rng)
        if path == "householder":
            W = apply_householder_haar(V, np.broadcast_to(np.eye(d), (n, d, d)))
        else:
            from depthcheck.kernels.backends.numpy import householder_matrix
            W = householder_matrix(V)
        return W * _signs_D(V)[:, None, :] if drop else W
    if path in ("numba_philox", "cuda_stream"):
        from depthcheck.kernels.backends.numba.wy import (apply_haar_philox,
                                                          householder_vectors_philox)
        method = "ziggurat" if path == "numba_philox" else "box_muller"
        key = tuple(int(k) for k in rng.integers(0, 2**32, size=2))  # Philox words
        W = apply_haar_philox(np.broadcast_to(np.eye(d), (n, d, d)).copy(), key, layer=1,
                              method=method)
        if drop:
            D = np.stack([_signs_D(householder_vectors_philox(key, 1, b, d, method))
                          for b in range(n)])
            W = W * D[:, None, :]
        return W
    raise ValueError(f"unknown Haar path {path!r}; known: {HAAR_PATHS}")


def _haar_simulate(cfg, rng, n_trials, backend):
    d, S = cfg["d"], cfg["samples"]
    monos = _monomials(cfg)
    drop = cfg["drop_sign_fix"]
    ev = {}
    for path in cfg["paths"]:
        m1 = np.empty((n_trials, len(monos)))
        m2 = np.empty((n_trials, len(monos)))
        for t in range(n_trials):
            W = _draw(path, S, d, rng, drop in (path, "all"))
            vals = np.stack([np.prod(W[:, list(r), list(c)], axis=1) for r, c in monos], axis=1)
            m1[t], m2[t] = vals.mean(axis=0), (vals * vals).mean(axis=0)
        ev[f"mean_{path}"], ev[f"square_{path}"] = m1, m2
    return ev


def _haar_judge(cfg, pred, ev, alpha):
    exact = np.asarray(pred)
    paths = cfg["paths"]
    k = len(paths) * exact.size
    fam = Family(alpha, k)
    half = cfg["band"]
    worst = {}
    for path in paths:
        m1, m2 = ev[f"mean_{path}"], ev[f"square_{path}"]
        n = m1.shape[0] * cfg["samples"]
        mean = m1.mean(axis=0)
        sd = np.sqrt(np.maximum(m2.mean(axis=0) - mean**2, 0.0) * n / (n - 1))
        q = t_quantile(fam.level, n - 1)
        for j, (r, c) in enumerate(_monomials(cfg)):
            if sd[j] == 0.0:       # a constant monomial (e.g. W_11² at d = 1): exact check
                z = 0.0 if mean[j] == exact[j] else np.sign(mean[j] - exact[j]) * np.inf
                ci = (z, z)
            else:
                z = (mean[j] - exact[j]) / sd[j]
                h = q / np.sqrt(n)
                ci = (z - h, z + h)
            name = f"{path}: E[{'·'.join(f'W{a}{b}' for a, b in zip(r, c))}]"
            fam.add_within(name, z, ci, -half, half)
        worst[path] = float(np.max(np.abs((mean - exact) / np.where(sd > 0, sd, 1.0))))
    what = (f"Haar paths {list(paths)} on O({cfg['d']})"
            + (f" with the sign randomisation dropped on {cfg['drop_sign_fix']!r}"
               if cfg["drop_sign_fix"] != "none" else "")
            + f": {exact.size} monomial means (degree <= {cfg['max_degree']}) each; statistic "
            f"(sample mean − exact Weingarten mean)/sd of the monomial, claim within "
            f"±{half} sd; largest |standardised bias| per path "
            + ", ".join(f"{p} {_g(v)}" for p, v in worst.items()))
    return fam.verdict(fam.summary(what, fmt=_g), prediction=0.0,
                       extra={"worst_standardised_bias": worst})
