"""Weight-gradient norms on a batch with duplicated columns, every chain engine (issue 15).

With two equal samples in the batch, H_l keeps the two columns equal at every depth, and the
backward signal turns antisymmetric across them (it explodes there; Meterez et al. 2024,
arXiv:2310.02012, Fig. 2): ∇W_l = δ_l H_{l-1}ᵀ cancels that part exactly, so ‖∇W_l‖_F falls
many orders of magnitude below ‖δ_l‖_F‖H_{l-1}‖_F. The fused kernels formed ‖δ Hᵀ‖_F² as
Σ (δᵀδ) ⊙ (HᵀH) from two n×n Grams, whose rounding error (~ eps·‖δ‖²‖H‖²) then exceeded the
sum: at network depth 400, d = n = 16 (the configuration of the claim
``bn_orthogonal.degenerate_input_explodes``) the numba engine returned log-norms ~8 too large
or −inf (a clamped negative sum) where the numpy engine was finite.

Chains, one test body for every CPU engine: the oracle is ``depthcheck.kernels.forward_backward``
(loss "xent", the explicit network, itself checked against finite differences in
tests/kernels/test_forward_backward.py) on the very weights the engine draws — the numpy
driver's (``chain_weights`` on the same rng), the numba kernels' Philox streams
(``householder_vectors_philox`` / ``readout_philox``, "ziggurat"). The norm itself, one test body
for the numba helper ``_grad_norm`` and the CUDA device function ``grad_norm_sq`` (on numba's
CUDA simulator, in a subprocess): H = [B, B] and a signal [S + A, S − A], whose exact value is
2‖S Bᵀ‖_F. The chain oracle's own rounding on these batches is far from eps: the part of the signal that ∇W keeps is ~1e-12 of the part it
cancels at depth 400, so float64 rounding anywhere in the chain moves log‖∇W_1‖_F by up to ~1e-3
(measured against an 80-bit long-double evaluation of the same network: numpy engine and oracle
<= 1e-4, numba <= 1.3e-3); hence a tolerance per configuration, far below the bug's error.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from depthcheck.kernels.backends.numba import fused_grad as fg
from depthcheck.kernels.backends.numba.fused import householder_vectors_philox
from depthcheck.kernels.chain.driver import chain_weights, simulate_chain
from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.nn.norms import norm_forward
from depthcheck.kernels.random.haar import apply_householder_haar
from depthcheck.kernels.random.philox import key_from_root, readout_philox

# name: (d, n, depth, trials, n_out, seed); depth = chain depth (network depth − 1)
CONFIGS = {
    "claim": (16, 16, 399, 3, 10, 0),   # bn_orthogonal.degenerate_input_explodes at L = 400
    "tiny": (4, 4, 45, 2, 2, 1),        # the old numba kernel gave −0.08 and −inf here
}
#: agreement of log‖∇W_l‖_F with the oracle (absolute, in nats) per configuration; the bug's
#: values were off by several nats or −inf
TOL_LOG = {"claim": 1e-2, "tiny": 1e-6}
# the CUDA kernels share the numba kernels' fix (``gram_trusted``); a chain deep enough for the
# cancellation takes minutes on numba's CUDA simulator, so their norm is checked on its own below
CASES = [("numpy", "claim"), ("numba", "claim"), ("numpy", "tiny"), ("numba", "tiny")]
_KW = dict(weights="haar", norm="bn_nomean", activation="identity", order="norm_act")


def _batch(d, n, seed):
    """n/2 Gaussian columns, each twice (columns c and c + n/2 equal), row-normalised."""
    base = np.random.default_rng([seed, 7]).standard_normal((d, n // 2))
    X, _ = norm_forward("bn_nomean", np.concatenate([base, base], axis=1))
    return X


def _oracle(X, Ws, W_out, labels, layers):
    _, grads = forward_backward(X, Ws + [W_out], labels, norm=_KW["norm"],
                                activation=_KW["activation"], loss="xent", order=_KW["order"])
    with np.errstate(divide="ignore"):
        return np.stack([0.5 * np.log(np.einsum("bij,bij->b", grads[l - 1], grads[l - 1]))
                         for l in layers], axis=1)


def _philox_weights(key, depth, B, d, n_out, method):
    eye = np.eye(d)
    Ws = [np.stack([apply_householder_haar(householder_vectors_philox(key, l, b, d, method), eye)
                    for b in range(B)]) for l in range(1, depth + 1)]
    return Ws, readout_philox(key, B, n_out, d, method)


def _run_engine(engine, X, depth, B, n_out, seed):
    """(grad_layers, log_grad_norm, explicit hidden weights, readout, labels) of one engine."""
    d, n = X.shape
    out = simulate_chain(X, depth, trials=B, rng=np.random.default_rng(seed), record=(),
                         record_every=depth, gradients=True, n_out=n_out, backend=engine, **_KW)
    labels = out["labels"]
    if engine == "numpy":
        w = chain_weights(d, n, depth, trials=B, rng=np.random.default_rng(seed), n_out=n_out,
                          labels=labels)
        Ws, W_out = w["hidden"], w["readout"]
    else:
        rng = np.random.default_rng(seed)            # the driver's root, then the labels
        root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
        Ws, W_out = _philox_weights(key_from_root(root), depth, B, d, n_out, "ziggurat")
    return out["grad_layers"], out["log_grad_norm"], Ws, W_out, labels


@pytest.mark.parametrize("engine,config", CASES, ids=[f"{e}-{c}" for e, c in CASES])
def test_duplicated_columns_gradients_equal_the_explicit_network(engine, config):
    d, n, depth, B, n_out, seed = CONFIGS[config]
    X = _batch(d, n, seed)
    layers, got, Ws, W_out, labels = _run_engine(engine, X, depth, B, n_out, seed)
    assert list(layers) == [1, depth]
    ref = _oracle(X, Ws, W_out, labels, layers)
    assert np.all(np.isfinite(ref))
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, ref, rtol=0, atol=TOL_LOG[config])


# ---------------------------------------------------------------- the norm itself
def _antisymmetric_case(sym):
    """H = [B, B] and dA = [S + A, S − A] (d = 12, 5 pairs, A ~ 1, S ~ sym): ‖dA Hᵀ‖_F is
    exactly 2‖S Bᵀ‖_F, whatever A."""
    rng = np.random.default_rng(5)
    d, m = 12, 5
    Bm = rng.standard_normal((d, m))
    A, S = rng.standard_normal((d, m)), sym * rng.standard_normal((d, m))
    H = np.ascontiguousarray(np.concatenate([Bm, Bm], axis=1))
    dA = np.ascontiguousarray(np.concatenate([S + A, S - A], axis=1))
    # the rounding of S ± A moves the exact value by ~eps·‖A‖‖B‖
    return dA, H, 2.0 * np.linalg.norm(S @ Bm.T), 1e-13 * np.linalg.norm(A) * np.linalg.norm(Bm)


SYMS = [0.0, 1e-13, 1e-9, 1e-4, 1.0]

_CUDA_NORM_SCRIPT = textwrap.dedent("""
    import json, sys, numpy as np
    from numba import cuda, float64
    from depthcheck.kernels.backends.cuda.device import grad_norm_sq
    TPB = 4

    @cuda.jit
    def kernel(A, H, d, n, out):
        red = cuda.shared.array(TPB, float64)
        v = grad_norm_sq(A, H, d, n, red, cuda.threadIdx.x, TPB)
        if cuda.threadIdx.x == 0:
            out[0] = v

    res = []
    for dA, H in json.loads(sys.argv[1]):
        dA, H = np.array(dA), np.array(H)
        out = np.zeros(1)
        kernel[1, TPB](dA.ravel(), H.ravel(), dA.shape[0], dA.shape[1], out)
        res.append(float(np.sqrt(out[0])))
    print("JSON" + json.dumps(res))
""")


@pytest.fixture(scope="module")
def cuda_norms():
    """‖dA Hᵀ‖_F of every ``SYMS`` case by the CUDA device function, on the simulator."""
    args = json.dumps([[a.tolist() for a in _antisymmetric_case(s)[:2]] for s in SYMS])
    return dict(zip(SYMS, _simulate(_CUDA_NORM_SCRIPT, args)))


def _simulate(script, args):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", script, args], env=env, text=True,
                          capture_output=True, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("JSON", 1)[1])


@pytest.mark.parametrize("engine", ["numba", "cuda"])
@pytest.mark.parametrize("sym", SYMS)
def test_grad_norm_of_a_signal_antisymmetric_across_duplicates(engine, sym, request):
    dA, H, want, slack = _antisymmetric_case(sym)
    if engine == "numba":
        s = H.shape[1]
        got = fg._grad_norm(dA, H, np.empty((s, s)), np.empty((s, s)), np.empty(8, np.int32),
                            np.empty(2), np.empty(2, np.uint8))
    else:
        got = request.getfixturevalue("cuda_norms")[sym]
    # the Gram form is kept only where it is within GRAM_REL_TOL (norm: half of it); the old
    # kernels returned 8 × and 1e5 × the exact value at sym = 1e-9 and 1e-13
    assert abs(got - want) <= slack + 0.5 * fg.GRAM_REL_TOL * want, (got, want)


def test_gram_trusted_rejects_cancellation_and_accepts_random_factors():
    rng = np.random.default_rng(6)
    for d, n in ((16, 16), (64, 8), (200, 200)):
        dA, H = rng.standard_normal((d, n)), rng.standard_normal((d, n))
        acc = np.linalg.norm(dA @ H.T) ** 2
        t = float(np.sum(np.linalg.norm(dA, axis=0) * np.linalg.norm(H, axis=0)))
        assert fg.gram_trusted(acc, t, d, n)
        assert not fg.gram_trusted(acc * 1e-12, t, d, n)
    assert not fg.gram_trusted(-1e-30, 1.0, 4, 4) and not fg.gram_trusted(np.nan, 1.0, 4, 4)
    assert fg.gram_trusted(0.0, 0.0, 4, 4)                         # an exactly zero signal
