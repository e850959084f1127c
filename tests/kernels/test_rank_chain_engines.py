"""The engines of the Daneshmand et al. 2020 (arXiv:2003.01652) chains (``rank_chain``,
``covariance_chain``, ``lyapunov_qr`` of depthcheck.kernels.chain.rank) against the numpy
reference: one test body per engine.

* On shared weights (the reference's sampler replaced by the Philox stream the numba kernel
  draws) every statistic of every norm / activation / weight law / γ agrees to rounding.
* On independent random numbers every scalar statistic agrees in law (two-sample KS tests at
  a fixed seed, Bonferroni over the tests); a wrong law is rejected by the same check.
* What an engine does not implement is refused by name, never run on another engine.
"""
import itertools
import math

import numpy as np
import pytest
from scipy.special import erf
from scipy.stats import ks_2samp

from depthcheck.kernels.backends import RANK_ENGINES, get_rank_engine
from depthcheck.kernels.chain import rank as ref
from depthcheck.kernels.chain.errors import UnsupportedEngineError
from depthcheck.kernels.chain.rank import (ACTIVATIONS, NORMS, STATISTICS, WEIGHT_LAWS,
                                           covariance_chain, lyapunov_qr, rank_chain)
from depthcheck.kernels.random.philox import normal_stream, philox_key
from depthcheck.theory import lyapunov as lyap

ENGINES = ["numpy", "numba"]
SCALARS = [s for s in STATISTICS if s not in ("top_eigs", "log_sv")]
COMBOS = list(itertools.product(NORMS, ACTIVATIONS, WEIGHT_LAWS))


def _philox_sampler(key, layer0=1):
    """A stand-in for the reference's ``_sample``: call number t (t = 0, 1, ...) returns the
    weights of layer layer0 + t for every trial from the Philox streams the numba kernels use,
    through the same law transforms (uniform: √3 erf(z/√2))."""
    calls = [layer0]

    def sample(rng, shape, law, scale, mean=0.0):
        B, d, _ = shape
        l = calls[0]
        calls[0] += 1
        Z = np.stack([normal_stream(key, l, b, 0, d * d).reshape(d, d) for b in range(B)])
        if law == "uniform":
            Z = math.sqrt(3.0) * erf(Z / math.sqrt(2.0))
        elif law == "uniform_pos":
            Z = math.sqrt(3.0) * (1.0 + erf(Z / math.sqrt(2.0)))
        if scale != 1.0:
            Z *= scale
        if mean != 0.0:
            Z += mean
        return Z
    return sample


def _on_shared_weights(engine, fn, seed, monkeypatch, *args, **kwargs):
    """``fn(*args, rng=default_rng(seed), backend=engine, **kwargs)`` with the weights of the
    Philox key that ``default_rng(seed)`` yields: the numba kernels draw them themselves, the
    reference gets them through its sampler."""
    if engine == "numpy":
        key = philox_key(np.random.default_rng(seed))
        monkeypatch.setattr(ref, "_sample", _philox_sampler(key))
    return fn(*args, rng=np.random.default_rng(seed), backend=engine, **kwargs)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_statistic_equals_the_reference_on_shared_weights(engine, monkeypatch):
    d, n, B, L = 5, 7, 3, 6
    X = np.random.default_rng(11).standard_normal((B, d, n)) + 0.3
    for (norm, act, law), gamma in itertools.product(COMBOS, (math.inf, 0.5)):
        kw = dict(gamma=gamma, weights=law, weight_scale=0.9, weight_mean=0.01, norm=norm,
                  activation=act, burn_in=1, record_every=2, record=STATISTICS, tau=0.5,
                  top_k=4)
        # a ReLU row of an uncentred norm can be all zero: its correlation ("offdiag") is
        # NaN in both engines (compared as equal)
        with monkeypatch.context() as m, np.errstate(invalid="ignore", divide="ignore"):
            got = _on_shared_weights(engine, rank_chain, 5, m, X, L, **kw)
        with monkeypatch.context() as m, np.errstate(invalid="ignore", divide="ignore"):
            want = _on_shared_weights("numpy", rank_chain, 5, m, X, L, **kw)
        assert set(got) == set(want) == {"layers", *STATISTICS}
        np.testing.assert_array_equal(got["layers"], want["layers"])
        for s in STATISTICS:
            assert got[s].shape == want[s].shape, (s, norm, act, law, gamma)
            assert got[s].dtype == want[s].dtype, (s, norm, act, law, gamma)
            a, b = got[s], want[s]
            if s == "log_sv":
                # σ_k/σ_1 below ~1e-11 (a dead ReLU column) is rounding noise in any SVD
                tiny = b < -25.0
                np.testing.assert_array_equal(a[tiny] < -25.0, True)
                a, b = a[~tiny], b[~tiny]
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10,
                                       err_msg=f"{s} {norm} {act} {law} γ={gamma}")


@pytest.mark.parametrize("engine", ENGINES)
def test_covariance_chain_and_lyapunov_equal_the_reference_on_shared_weights(engine,
                                                                             monkeypatch):
    A = np.random.default_rng(2).standard_normal((6, 3))
    M0 = A @ A.T + 0.1 * np.eye(6)
    kw = dict(trials=4, gamma=0.3, weights="uniform", record_every=5,
              record=("rank_lower_bound", "g2", "top_eigs"), top_k=3)
    with monkeypatch.context() as m:
        got = _on_shared_weights(engine, covariance_chain, 3, m, M0, 20, **kw)
    with monkeypatch.context() as m:
        want = _on_shared_weights("numpy", covariance_chain, 3, m, M0, 20, **kw)
    for s in kw["record"]:
        np.testing.assert_allclose(got[s], want[s], rtol=1e-8)
    for gamma, law in ((math.inf, "gaussian"), (0.5, "uniform"), (math.inf, "uniform_pos")):
        kw = dict(trials=3, gamma=gamma, weights=law, sigma=0.8, burn_in=10)
        with monkeypatch.context() as m:
            got = _on_shared_weights(engine, lyapunov_qr, 4, m, 5, 200, **kw)
        with monkeypatch.context() as m:
            want = _on_shared_weights("numpy", lyapunov_qr, 4, m, 5, 200, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"{law} γ={gamma}")


def _law_gaps(engine, combos, *, seed, B=200, d=6, n=6, L=24, offset=0.0):
    """KS p-values of every scalar statistic at the last recorded layer and its depth average:
    ``engine`` (weights with mean ``offset`` added, for the power check) against the reference."""
    pvals = []
    for norm, act, law, gamma in combos:
        # a narrow uncentred ReLU chain dies (every row of H all zero) within tens of layers
        # in some trials
        dd, nn, LL = (16, 16, 8) if act == "relu" and norm != "bn" else (d, n, L)
        X = np.random.default_rng(seed).standard_normal((dd, nn)) + 0.2
        # after an uncentred ReLU a row can be all zero, its correlation undefined (NaN)
        stats = [s for s in SCALARS if s != "offdiag" or act == "identity" or norm == "bn"]
        kw = dict(trials=B, gamma=gamma, weights=law, norm=norm, activation=act, burn_in=4,
                  record_every=4, record=stats, tau=0.5)
        got = rank_chain(X, LL, rng=np.random.default_rng(seed + 1), backend=engine,
                         weight_mean=offset, **kw)
        want = rank_chain(X, LL, rng=np.random.default_rng(seed + 2), backend="numpy", **kw)
        for s in stats:
            for f in (lambda x: x[:, -1], lambda x: x.mean(axis=1)):
                # rounded to 1e-8: a collapsed chain (uniform_pos) sits at r = 1, ‖M‖² = d²
                # up to rounding, whose noise differs between engines
                a, b = np.round(f(got[s]), 8), np.round(f(want[s]), 8)
                if np.ptp(a) == 0 and np.ptp(b) == 0:      # e.g. rank = d in every trial
                    pvals.append(1.0 if a[0] == b[0] else 0.0)
                else:
                    pvals.append(ks_2samp(a, b, method="asymp").pvalue)
    return np.array(pvals)


#: γ alternates between ∞ and 0.5
_LAW_COMBOS = [(norm, act, law, math.inf if i % 2 else 0.5)
               for i, (norm, act, law) in enumerate(COMBOS)]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_statistic_agrees_in_law_with_the_reference(engine):
    p = _law_gaps(engine, _LAW_COMBOS, seed=100)
    # Bonferroni: family-wise level 0.01 over all statistics of all combinations
    assert p.min() > 0.01 / p.size, (p.min(), p.size)


def test_the_law_check_rejects_a_wrong_law():
    """Power: a weight mean of 0.15 (a biased sampler) in the engine under test is rejected."""
    combos = [("bn_nomean", "identity", "uniform", 0.5), ("bn", "relu", "gaussian", math.inf)]
    p = _law_gaps("numba", combos, seed=200, offset=0.15)
    assert p.min() < 0.01 / p.size


@pytest.mark.parametrize("engine", ENGINES)
def test_lyapunov_exponents_match_newman_formula(engine):
    d, depth = 4, 3000
    mu = lyapunov_qr(d, depth, trials=16, rng=np.random.default_rng(7), burn_in=50,
                     backend=engine)
    exact = lyap.lyapunov_exponents_ginibre(d, 1.0, False)
    se = mu.std(axis=0, ddof=1) / math.sqrt(mu.shape[0])
    assert np.all(np.abs(mu.mean(axis=0) - exact) < 5 * se + 1e-3), (mu.mean(0), exact)
    # and a wrong law (U[−√3, √3]: same variance, other spectrum at d = 2) is told apart
    u = lyapunov_qr(2, depth, trials=16, rng=np.random.default_rng(8), weights="uniform",
                    burn_in=50, backend=engine)
    ex2 = lyap.lyapunov_exponents_ginibre(2, 1.0, False)
    se2 = u.std(axis=0, ddof=1) / math.sqrt(u.shape[0])
    assert np.any(np.abs(u.mean(axis=0) - ex2) > 5 * se2)


@pytest.mark.parametrize("engine", ENGINES)
def test_breakdowns_raise_the_reference_error(engine):
    X = np.zeros((2, 4, 5))
    for norm in ("bn", "bn_nomean", "rownorm"):
        with pytest.raises(ValueError, match=r"layer 1: row 0 \(trial \(0,\)\) has zero"):
            rank_chain(X, 3, rng=np.random.default_rng(0), norm=norm, backend=engine)
    with pytest.raises(ValueError, match="vanilla chain: H became zero or non-finite at "
                                         "layer 1"):
        rank_chain(X, 3, rng=np.random.default_rng(0), norm="none", backend=engine)


def test_unsupported_requests_are_refused_by_name():
    X = np.eye(4)
    for name in ("cuda", "cupy"):
        with pytest.raises(UnsupportedEngineError, match="rank_chain has no 'cuda' engine; "
                                                         "engines for rank_chain: "
                                                         "backend='numpy', backend='numba'"):
            rank_chain(X, 2, rng=np.random.default_rng(0), backend=name)
        with pytest.raises(UnsupportedEngineError, match="lyapunov_qr has no 'cuda' engine"):
            lyapunov_qr(3, 5, trials=2, rng=np.random.default_rng(0), backend=name)
        with pytest.raises(UnsupportedEngineError, match="rank_chain has no 'cuda' engine"):
            covariance_chain(np.eye(3), 2, rng=np.random.default_rng(0), backend=name)
    with pytest.raises(UnsupportedEngineError, match=r"lyapunov_qr\(complex=True\) has no "
                                                     r"'numba' engine"):
        lyapunov_qr(3, 5, trials=2, rng=np.random.default_rng(0), complex=True,
                    backend="numba")
    for bad in ("reduced", "reduced_numba", "torch", None):
        with pytest.raises(ValueError, match="backend"):
            rank_chain(X, 2, rng=np.random.default_rng(0), backend=bad)
    with pytest.raises(ValueError, match="function"):
        get_rank_engine("one_step_drift", "numba")
    assert {f for f, _ in RANK_ENGINES} == {"rank_chain", "lyapunov_qr"}


def test_numpy_backend_is_the_reference_loop_unchanged():
    """backend="numpy" consumes the same random numbers as before the keyword existed: the
    recursion written out here with the same draws gives the same statistics bit for bit."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((3, 4, 4))
    out = rank_chain(X, 3, rng=np.random.default_rng(1), gamma=0.5, weights="uniform",
                     norm="bn", record=("frobenius_M",), backend="numpy")
    g = np.random.default_rng(1)
    H = X.copy()
    for _ in range(3):
        W = g.uniform(-math.sqrt(3), math.sqrt(3), (3, 4, 4))
        A = np.matmul(W, H)
        A *= 0.5
        A += H
        A = A - A.mean(axis=-1, keepdims=True)
        ms = np.einsum("...ij,...ij->...i", A, A)[..., None] / 4
        H = A / np.sqrt(ms)
        M = np.matmul(H, H.swapaxes(-1, -2)) / 4
    np.testing.assert_array_equal(out["frobenius_M"][:, -1], np.sum(np.sum(M * M, -1), -1))
