"""Backend "numba": Philox streams, the compact-WY kernels and the fused chain.

Oracles: Random123's known-answer vectors for Philox4x32-10; N(0, 1) moments; the numpy
reflection loop ``depthcheck.kernels.random.haar.apply_householder_haar`` and the numpy layer/statistics code
(``depthcheck.kernels.backends.numpy``, ``depthcheck.kernels.chain.statistics``) fed with exactly the random numbers the
kernels use (agreement to rounding); and ``depthcheck.kernels.simulate_chain`` (numpy) in law, by
two-sample KS tests at family-wise level 1e-3 which also reject a chain of a different law.
Compile time: the kernels are cached on disk (numba ``cache=True``); a cold cache costs ~20-30 s.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from depthcheck.kernels.backends.numba import fused as nc
from depthcheck.kernels.random import philox
from depthcheck.kernels import backends as engines
from depthcheck.kernels.chain.driver import ChainBreakdownError, simulate_chain
from depthcheck.kernels.chain.spec import ChainSpec
from depthcheck.kernels.backends.numpy import NumpyChainBackend
from depthcheck.kernels.chain.statistics import compute_statistic
from depthcheck.kernels.random.haar import apply_householder_haar, haar_householder_vectors

ALL = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv", "frobenius_M",
       "top_singular_values")
ALPHA = 1e-3



# Random123 kat_vectors for philox4x32_10: (counter, key, output)
KAT = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
       ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
       ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_philox_known_answers_numba_and_numpy(ctr, key, expected):
    u = [np.uint64(v) for v in ctr + key]
    assert tuple(int(v) for v in philox._philox_cpu(*u)) == expected
    arr = [np.full(3, v, dtype=np.uint64) for v in ctr] + [np.uint64(k) for k in key]
    out = philox.philox4x32_10(*arr)
    assert all(np.all(o == e) for o, e in zip(out, expected))


def test_eight_counter_philox_and_refill_equal_the_scalar_rounds():
    """``philox._refill`` (eight counters a round in ``uint64x8`` lanes, whose high halves
    carry junk between rounds, then a scalar tail) lays out the words (c0<<32 | c1),
    (c2<<32 | c3) of ``philox4x32_10`` (numpy, checked against Random123 above) counter by
    counter, for buffer sizes with and without a tail, and with the counter crossing 2³²
    (taken mod 2³², as the scalar rounds take it)."""
    rng = np.random.default_rng(8)
    for trial, words in enumerate([2, 14, 16, 18, 64, 130]):
        key = [np.uint64(v) for v in rng.integers(0, 2**32, 2)]
        c1, c2, c3 = (np.uint64(v) for v in rng.integers(0, 2**32, 3))
        start = 2**32 - 5 if trial == 4 else int(rng.integers(0, 2**31))
        buf = np.zeros(words, dtype=np.uint64)
        philox._refill(buf, start, key[0], key[1], c1, c2, c3)
        j = (np.arange(words // 2, dtype=np.uint64) + np.uint64(start)) & np.uint64(2**32 - 1)
        a, b, c, e = philox.philox4x32_10(j, np.full_like(j, c1), np.full_like(j, c2),
                                          np.full_like(j, c3), *key)
        want = np.empty(words, dtype=np.uint64)
        want[0::2] = (a << np.uint64(32)) | b
        want[1::2] = (c << np.uint64(32)) | e
        np.testing.assert_array_equal(buf, want)


def test_ziggurat_candidates_eight_at_a_time_equal_the_scalar_transform():
    """``philox._zig_candidates`` (``uint64x8`` lanes, gathers, a sign-bit flip, then a scalar
    tail) gives each word's candidate bit for bit and its fast-test failure bit, as the scalar
    ``_zig_candidate``: random words at every size 1 .. 64 plus words with rabs = 0 (±0.0),
    the base layer idx = 0 and the last, idx = 255, and rabs at ki[idx] − 1 and ki[idx]."""
    rng = np.random.default_rng(9)
    words = rng.integers(0, 2**64, 64, dtype=np.uint64)
    ki = philox._KI
    special = [(0, 0, 0), (0, 1, 0), (0, 0, 5), (255, 1, 0), (17, 0, int(ki[17]) - 1),
               (17, 1, int(ki[17])), (0, 0, int(ki[0])), (200, 1, 2**52 - 1)]
    for t, (idx, sign, rabs) in enumerate(special):           # word = rabs<<9 | sign<<8 | idx
        words[3 * t] = np.uint64((rabs << 9) | (sign << 8) | idx)
    fails = 0
    for m in range(1, 65):
        cand = np.full(m, np.nan)
        mask = int(philox._zig_candidates(words[:m], cand))
        for j in range(m):
            x, fail = philox._zig_candidate(words[j])
            assert cand[j].tobytes() == np.float64(x).tobytes(), (m, j)
            assert bool(mask >> j & 1) == fail, (m, j)
        assert mask >> m == 0
        fails = bin(mask).count("1")
    assert 3 <= fails < 20                # the special words fail: the test sees both outcomes


def test_ziggurat_stream_is_the_same_on_a_portable_target(tmp_path):
    """The stream does not depend on the vector width numba compiles for: under
    ``NUMBA_CPU_NAME=generic`` (SSE2, no gathers: LLVM splits the eight lanes and loads the
    table entries one by one) ``normal_stream`` and the reduced chain's ``reduced_normals``
    return the numbers this process computes, bit for bit."""
    import os
    import subprocess
    import sys
    from depthcheck.kernels.backends.numba.reduced import reduced_normals
    code = ("import sys, numpy as np\n"
            "from depthcheck.kernels.random.philox import normal_stream\n"
            "from depthcheck.kernels.backends.numba.reduced import reduced_normals\n"
            "np.save(sys.argv[1], np.concatenate([normal_stream((7, 8), 3, 2, 0, 20001),"
            " reduced_normals((7, 8), 3, 2, 0, 20001)]))\n")
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("NUMBA_CPU_FEATURES", None)
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "z.npy")], env=env, check=True,
                   timeout=300)
    here = np.concatenate([philox.normal_stream((7, 8), 3, 2, 0, 20001),
                           reduced_normals((7, 8), 3, 2, 0, 20001)])
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), here)


@pytest.mark.parametrize("method", ["ziggurat", "box_muller"])
def test_normal_streams_are_standard_normal(method):
    z = philox.normal_stream((12, 34), 5, 6, 0, 200_000, method)
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(z**4) - 3) < 5 * math.sqrt(96 / n)     # Var(z⁴) = 105 - 9
    assert stats.kstest(z, "norm").pvalue > 1e-4
    # different streams are different numbers; the same stream is reproducible
    assert not np.array_equal(z[:100], philox.normal_stream((12, 34), 5, 7, 0, 100, method))
    np.testing.assert_array_equal(z[:100], philox.normal_stream((12, 34), 5, 6, 0, 100, method))


def test_box_muller_numba_equals_numpy_reference():
    a = philox.normal_stream((1, 2), 3, 4, 0, 1001, "box_muller")
    b = philox.box_muller_normals((1, 2), 3, 4, 0, 1001)
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def _ziggurat_reference(key, layer, trial, stream, size):
    """numpy's ``random_standard_normal`` (its distributions.c, tables vendored by numba),
    transcribed word by word in plain Python and fed the Philox words (c0<<32 | c1),
    (c2<<32 | c3) of counters 0, 1, 2, ... of (layer, trial, stream). Returns the normals and
    the numbers of (wedge, tail) slow-path visits and of wedge visits whose candidate is the
    last word of a 64-word refill (its uniform is the next refill's first word)."""
    from numba.np.random import _constants as c
    ki = [int(v) for v in c.ki_double]
    wi, fi = list(c.wi_double), list(c.fi_double)
    r_base, inv_r = float(c.ziggurat_nor_r), float(c.ziggurat_nor_inv_r)
    j = np.arange(size + 256, dtype=np.uint64)      # ~0.51 words a normal: ample counters
    full = lambda v: np.full(j.shape, v, dtype=np.uint64)
    a, b, cc, e = philox.philox4x32_10(j, full(layer), full(trial), full(stream),
                                       np.uint64(key[0]), np.uint64(key[1]))
    words = np.stack([(a << np.uint64(32)) | b, (cc << np.uint64(32)) | e], axis=1).ravel()
    it = iter(int(w) for w in words)
    used = [0]

    def word():
        used[0] += 1
        return next(it)
    uniform = lambda: (word() >> 11) * 2.0 ** -53
    out, wedge, tail, edge = [], 0, 0, 0
    while len(out) < size:
        r = word()
        idx = r & 0xFF
        r >>= 8
        sign = r & 1
        rabs = (r >> 1) & 0x000FFFFFFFFFFFFF
        x = -(rabs * wi[idx]) if sign else rabs * wi[idx]
        if rabs < ki[idx]:
            out.append(x)
        elif idx == 0:
            tail += 1
            while True:
                xx = -inv_r * math.log1p(-uniform())
                yy = -math.log1p(-uniform())
                if yy + yy > xx * xx:
                    out.append(-(r_base + xx) if (rabs >> 8) & 1 else r_base + xx)
                    break
        else:
            wedge += 1
            edge += used[0] % 64 == 0
            if (fi[idx - 1] - fi[idx]) * uniform() + fi[idx] < math.exp(-0.5 * x * x):
                out.append(x)
    return np.array(out), wedge, tail, edge


@pytest.mark.parametrize("size", [1, 63, 64, 65, 127, 128, 200, 300_000])
def test_sequential_ziggurat_is_numpys_algorithm_on_the_philox_words(size):
    """``normal_stream(..., "ziggurat")`` (the fused kernels' ``_zig_fill``: candidates and
    failure masks of 64 words at a time, the wedge tests of a block resolved in its keep mask,
    the kept candidates compressed into the output, a last partial block through work space,
    the steps that cross a refill walked word by word) equals the plain transcription of
    numpy's ziggurat on the same words, number for number, slow paths included: at 300 000
    normals the stream visits the wedge test thousands of times, the tail sampler (layer 0)
    and a wedge whose uniform is the next refill's first word dozens of times each."""
    key = (2718, 28182)
    got = philox.normal_stream(key, 9, 3, 0, size)
    want, wedge, tail, edge = _ziggurat_reference(key, 9, 3, 0, size)
    np.testing.assert_array_equal(got, want)
    if size == 300_000:
        assert wedge > 1000 and tail >= 20 and edge >= 20, (wedge, tail, edge)


@pytest.mark.parametrize("d,n,block", [(1, 3, 16), (2, 2, 1), (9, 4, 3), (20, 5, 8), (33, 7, 16)])
def test_wy_kernel_equals_reflection_loop(d, n, block):
    rng = np.random.default_rng(d)
    V = haar_householder_vectors((3,), d, rng)
    H = rng.standard_normal((3, d, n))
    ref = apply_householder_haar(V, H)
    np.testing.assert_allclose(nc.haar_apply_batch(V, H, block=block), ref, atol=1e-12)
    np.testing.assert_allclose(nc.haar_apply_batch(V, ref, block=block, transpose=True), H,
                               atol=1e-12)


def test_apply_haar_philox_equals_loop_on_the_same_vectors():
    d, n, key = 13, 4, (5, 6)
    H = np.random.default_rng(1).standard_normal((3, d, n))
    for method in ("ziggurat", "box_muller"):
        Y = nc.apply_haar_philox(H, key, 7, method=method, block=5)
        V = np.stack([nc.householder_vectors_philox(key, 7, b, d, method) for b in range(3)])
        np.testing.assert_allclose(Y, apply_householder_haar(V, H), atol=1e-12)


# ---------------------------------------------------------------- fused chain: exact
def _spec(X, depth, trials, **kw):
    return ChainSpec.from_arguments(X, depth, trials=trials, rng=np.random.default_rng(0), weights=kw.get('weights', 'haar'), norm=kw.get('norm', 'rownorm'), activation=kw.get('activation', 'identity'), order=kw.get('order', 'norm_act'), gains=kw.get('gains'), gain_exponent=kw.get('gain_exponent'), residual=kw.get('residual'), weight_std=kw.get('weight_std'), record_every=1, record=ALL, tau=0.5, gradients=False, labels=None, n_out=10, checkpoint_every=None, method='full', backend='numpy', n_singular=10, progress=False)


def _reference(spec, X, key, method):
    """The numpy layer code and statistics, fed with the fused kernel's random numbers."""
    be, (B, d, n) = NumpyChainBackend(), (spec.trials, spec.d, spec.n)
    H = np.array(np.broadcast_to(X, (B, d, n)), dtype=np.float64)
    log_c = np.zeros(B)
    if spec.rescale:
        s = np.sqrt(np.sum(H * H, axis=(1, 2)))
        H, log_c = H / s[:, None, None], np.log(s)
    out = {k: [] for k in ALL + ("log_scale",)}

    def rec(H, pre):
        for k in ALL:
            out[k].append(compute_statistic(k, H, pre, tau=0.5, n_singular=10))
        out["log_scale"].append(log_c + np.log(np.sqrt(np.sum(H * H, axis=(1, 2)))))
    rec(H, np.broadcast_to(X, H.shape))
    for l in range(1, spec.depth + 1):
        if spec.weights == "haar":
            V = np.stack([nc.householder_vectors_philox(key, l, b, d, method) for b in range(B)])
            A = apply_householder_haar(V, H)
        else:
            z = np.stack([philox.normal_stream(key, l, b, 0, d * d, method) for b in range(B)])
            z = z.reshape(B, d, d)
            W = spec.weight_std * (z if spec.weights == "gaussian"
                                   else math.sqrt(3.0) * np.vectorize(math.erf)(z / math.sqrt(2)))
            A = W @ H
        if spec.residual is not None:
            A = H + spec.residual * A
        o = be.nonlinear(spec, l, A)
        H = o.H
        if spec.rescale:
            s = np.sqrt(np.sum(H * H, axis=(1, 2)))
            H, log_c = H / s[:, None, None], log_c + np.log(s)
        rec(H, o.pre_norm)
    return {k: np.stack(v, axis=1) for k, v in out.items()}


FUSED_CASES = [
    dict(),                                                          # seed 001 eq. (3)
    dict(norm="bn", activation="tanh", gain_exponent=0.4),
    dict(norm="bn_nomean", activation="sin", order="act_norm", residual=0.3),
    dict(norm="none", activation="relu"),                            # rescaled vanilla chain
    dict(norm="none", activation="sigmoid", weights="gaussian"),     # unrescaled, Gaussian W
    dict(norm="rownorm", activation="leaky_relu", weights="uniform", order="act_norm"),
]


@pytest.mark.parametrize("kw", FUSED_CASES)
@pytest.mark.parametrize("method", ["ziggurat", "box_muller"])
def test_fused_chain_equals_numpy_layers_on_shared_random_numbers(kw, method):
    d, n, L, B, key = 11, 5, 4, 3, (2024, 77)
    X = np.random.default_rng(3).standard_normal((d, n))
    spec = _spec(X, L, B, **kw)
    got = nc.run_fused(spec, X, key, ALL, 1, 0.5, 10, method, block=4)
    ref = _reference(spec, X, key, method)
    for k in ALL:
        r, g = ref[k], got[k]
        if k == "top_singular_values":       # Gram eigenvalues vs SVD: relative to σ_max
            np.testing.assert_allclose(g, r[..., :g.shape[-1]], rtol=0,
                                       atol=1e-7 * np.max(np.abs(r)))
        else:
            np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12, err_msg=k)
    if spec.norm == "none":
        np.testing.assert_allclose(got["log_scale"], ref["log_scale"], rtol=1e-12, atol=1e-12)


def test_fused_statistics_record_every_and_input_batch():
    d, n, B = 9, 4, 4
    X = np.random.default_rng(4).standard_normal((B, d, n))
    out = nc.simulate_chain_numba(X, 7, trials=B, rng=np.random.default_rng(5), record_every=3,
                                  record=("isometry_gap", "top_singular_values"))
    assert list(out["layers"]) == [0, 3, 6]
    assert out["isometry_gap"].shape == (B, 3) and out["top_singular_values"].shape == (B, 3, 4)
    from depthcheck.theory.isometry import isometry_gap
    np.testing.assert_allclose(out["isometry_gap"][:, 0], isometry_gap(X), rtol=1e-10)


# ---------------------------------------------------------------- fused chain: law
LAW_CASES = [(8, 4, 5, dict()), (10, 6, 4, dict(norm="bn", activation="tanh", residual=0.5))]


def _law_pvalues(a, b):
    ps = {}
    for k in ("isometry_gap", "rank_lower_bound"):
        for j in range(1, a[k].shape[1]):
            ps[(k, j)] = stats.ks_2samp(a[k][:, j], b[k][:, j]).pvalue
    return ps


def test_fused_chain_matches_numpy_chain_in_distribution():
    n_tests = sum(2 * L for (_, _, L, _) in LAW_CASES)
    for (d, n, L, kw) in LAW_CASES:
        X = np.random.default_rng(d).standard_normal((d, n))
        rec = ("isometry_gap", "rank_lower_bound")
        a = simulate_chain(X, L, trials=1500, rng=np.random.default_rng(1), record=rec, **kw)
        b = nc.simulate_chain_numba(X, L, trials=1500, rng=np.random.default_rng(2), record=rec,
                                    **kw)
        ps = _law_pvalues(a, b)
        assert min(ps.values()) > ALPHA / n_tests, ps


def test_law_check_rejects_a_chain_with_other_weights():
    d, n, L, kw = LAW_CASES[0]
    X = np.random.default_rng(d).standard_normal((d, n))
    rec = ("isometry_gap", "rank_lower_bound")
    a = simulate_chain(X, L, trials=1500, rng=np.random.default_rng(1), record=rec, **kw)
    b = nc.simulate_chain_numba(X, L, trials=1500, rng=np.random.default_rng(2), record=rec,
                                weights="gaussian", **kw)
    assert min(_law_pvalues(a, b).values()) < 1e-8


# ---------------------------------------------------------------- per-layer backend
class _LayersOnly(nc.NumbaChainBackend):
    """The per-layer methods alone (a driver with the fused hook would otherwise hand
    forward-only chains to the fused kernel, which draws other random numbers)."""

    @staticmethod
    def fused(spec, record, gradients):
        return False


@pytest.mark.parametrize("kw", [dict(gradients=True, n_out=3),
                                dict(gradients=True, n_out=3, residual=0.5, norm="bn",
                                     activation="tanh", order="act_norm"),
                                dict()])
def test_numba_per_layer_backend_equals_numpy_backend_including_gradients(kw, monkeypatch):
    real = engines.get_engine
    monkeypatch.setattr(engines, "get_engine",
                        lambda m, b: _LayersOnly() if b == "numba" else real(m, b))
    X = np.random.default_rng(6).standard_normal((12, 5))
    a = simulate_chain(X, 5, trials=3, rng=np.random.default_rng(7), record=ALL, **kw)
    b = simulate_chain(X, 5, trials=3, rng=np.random.default_rng(7), record=ALL,
                       backend="numba", **kw)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-11, err_msg=k)


def test_backend_numba_through_simulate_chain_matches_numpy_in_law():
    """Valid with or without the driver's fused hook (exact per-layer path or fused kernel)."""
    d, n, L = 8, 4, 3
    X = np.random.default_rng(d).standard_normal((d, n))
    rec = ("isometry_gap", "rank_lower_bound")
    a = simulate_chain(X, L, trials=1000, rng=np.random.default_rng(1), record=rec)
    b = simulate_chain(X, L, trials=1000, rng=np.random.default_rng(2), record=rec,
                       backend="numba")
    assert min(_law_pvalues(a, b).values()) > ALPHA / (2 * L)


def test_fused_entry_point_for_drivers_uses_the_root_derived_key():
    X = np.random.default_rng(9).standard_normal((7, 3))
    spec = _spec(X, 3, 2)
    root = (123456789, 987654321)
    got = nc.NumbaChainBackend.run_fused(spec, X, root, record=ALL, record_every=1, tau=0.5,
                                         n_singular=10, gradients=False, labels=None,
                                         checkpoint_every=2)
    want = nc.run_fused(spec, X, philox.key_from_root(root), ALL, 1, 0.5, 10)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_registration_and_householder_weights_object():
    assert {("full", "numba"), ("full", "cuda"), ("reduced", "numpy")} <= set(engines.ENGINES)
    be = engines.get_engine("full", "numba")
    assert isinstance(be, nc.NumbaChainBackend) and be.fused(None, (), False)
    assert be.fused(None, (), True)           # gradients run fused too (numba_chain_grad)
    V = haar_householder_vectors((2,), 6, np.random.default_rng(8))
    W = nc.HouseholderWeights(V)
    M = W.matrix()
    np.testing.assert_allclose(M, apply_householder_haar(V, np.eye(6)), atol=1e-13)
    np.testing.assert_allclose(W.T.matrix(), np.swapaxes(M, -1, -2), atol=1e-13)


# ---------------------------------------------------------------- errors
def test_breakdown_is_reported_with_the_layer():
    X = np.random.default_rng(9).standard_normal((5, 1))            # one sample: bn undefined
    for run in (lambda: simulate_chain(X, 3, trials=2, rng=np.random.default_rng(0), norm="bn"),
                lambda: nc.simulate_chain_numba(X, 3, trials=2, rng=np.random.default_rng(0),
                                                norm="bn")):
        with pytest.raises(ChainBreakdownError, match="layer 1"):
            run()


@pytest.mark.parametrize("kwargs,name", [(dict(gradients=1), "gradients"),
                                         (dict(gradients=True, n_out=5), "n_out"),
                                         (dict(method="polar"), "method"),
                                         (dict(block=0), "block"),
                                         (dict(norm="batch"), "norm")])
def test_bad_input_raises_value_error_naming_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        nc.simulate_chain_numba(np.ones((4, 2)) + np.eye(4, 2), 2, trials=2,
                                rng=np.random.default_rng(0), **kwargs)
