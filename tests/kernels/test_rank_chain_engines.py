"""The engines of the Daneshmand et al. 2020 (arXiv:2003.01652) chains (``rank_chain``,
``covariance_chain``, ``lyapunov_qr``, ``one_step_drift`` of depthcheck.kernels.chain.rank) against the numpy
reference: one test body per engine.

* On shared weights (the reference's sampler replaced by the generator streams the numba
  kernels draw, ``trial_weights``) every statistic of every norm / activation / weight law / γ
  agrees to rounding, and so do ``lyapunov_qr`` and ``one_step_drift``.
* The kernels' weights themselves have the declared laws (KS against N(0, 1) and U[−√3, √3]).
* On independent random numbers every scalar statistic agrees in law (two-sample KS tests at
  a fixed seed, Bonferroni over the tests); a wrong law is rejected by the same check.
* What an engine does not implement is refused by name, never run on another engine.
"""
import itertools
import math

import numpy as np
import pytest
from scipy.stats import kstest, ks_2samp

from depthcheck.kernels.backends import RANK_ENGINES, get_rank_engine
from depthcheck.kernels.chain import rank as ref
from depthcheck.kernels.chain.errors import UnsupportedEngineError
from depthcheck.kernels.chain.rank import (ACTIVATIONS, NORMS, STATISTICS, WEIGHT_LAWS,
                                           covariance_chain, lyapunov_qr, one_step_drift,
                                           rank_chain)
from depthcheck.kernels.backends.numba.rank import trial_weights
from depthcheck.kernels.random.philox import philox_key
from depthcheck.theory import lyapunov as lyap

ENGINES = ["numpy", "numba"]
SCALARS = [s for s in STATISTICS if s not in ("top_eigs", "log_sv")]
COMBOS = list(itertools.product(NORMS, ACTIVATIONS, WEIGHT_LAWS))


def _kernel_sampler(key, function):
    """A stand-in for the reference's ``_sample``: call number t (t = 0, 1, ...) returns, for
    every trial b (the leading axis), block t of generator b of ``function`` in the numba
    kernels (``trial_weights``: layer t + 1 of rank_chain, G_{t+1} of lyapunov_qr); for
    one_step_drift (one call of shape (draws, K, d, d)) draw b's blocks 0..K−1."""
    calls = [0]
    cache = {}

    def sample(rng, shape, law, scale, mean=0.0):
        t = calls[0]
        calls[0] += 1
        if function == "one_step_drift":
            draws, K, d, _ = shape
            return np.stack([trial_weights(key, function, b, K, d, law, scale, mean)
                             for b in range(draws)])
        B, d, _ = shape
        if (law, scale, mean) not in cache:
            cache[(law, scale, mean)] = np.stack(
                [trial_weights(key, function, b, 400, d, law, scale, mean) for b in range(B)])
        return cache[(law, scale, mean)][:, t].copy()
    return sample


def _on_shared_weights(engine, fn, seed, monkeypatch, *args, **kwargs):
    """``fn(*args, rng=default_rng(seed), backend=engine, **kwargs)`` with the weights of the
    key that ``default_rng(seed)`` yields: the numba kernels draw them themselves, the
    reference gets them through its sampler."""
    if engine == "numpy":
        key = philox_key(np.random.default_rng(seed))
        name = {"covariance_chain": "rank_chain"}.get(fn.__name__, fn.__name__)
        monkeypatch.setattr(ref, "_sample", _kernel_sampler(key, name))
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


def _drift_cases():
    rng = np.random.default_rng(31)
    H = rng.standard_normal((2, 6, 12))
    H[1] += 1.5 * H[1, :1]                                   # nearly collinear rows
    H /= np.sqrt(np.mean(H * H, axis=-1, keepdims=True))     # BN manifold: unit diagonal
    return H @ H.swapaxes(-1, -2) / H.shape[-1]


@pytest.mark.parametrize("engine", ENGINES)
def test_one_step_drift_equals_the_reference_on_shared_weights(engine, monkeypatch):
    Ms = _drift_cases()
    for law, anti in (("gaussian", True), ("uniform", True), ("uniform_pos", False)):
        kw = dict(draws=7, weights=law, weight_scale=1.1, antithetic=anti)
        with monkeypatch.context() as m:
            got = _on_shared_weights(engine, one_step_drift, 6, m, Ms, 0.05, **kw)
        with monkeypatch.context() as m:
            want = _on_shared_weights("numpy", one_step_drift, 6, m, Ms, 0.05, **kw)
        assert got.shape == want.shape == (7, 2)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13, err_msg=law)
        with monkeypatch.context() as m:
            one = _on_shared_weights(engine, one_step_drift, 6, m, Ms[0], 0.05, **kw)
        assert one.shape == (7,)


def _drift_pvalues(engine, *, seed, scale=1.0):
    Ms = _drift_cases()
    p = []
    for law, anti in (("gaussian", True), ("uniform", True), ("gaussian", False)):
        a = one_step_drift(Ms, 0.05, draws=4000, rng=np.random.default_rng(seed),
                           weights=law, weight_scale=scale, antithetic=anti, backend=engine)
        b = one_step_drift(Ms, 0.05, draws=4000, rng=np.random.default_rng(seed + 1),
                           weights=law, antithetic=anti, backend="numpy")
        p += [ks_2samp(a[:, k], b[:, k], method="asymp").pvalue for k in range(Ms.shape[0])]
    return np.array(p)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_step_drift_agrees_in_law_with_the_reference(engine):
    p = _drift_pvalues(engine, seed=40)
    assert p.min() > 0.01 / p.size, p


def test_the_drift_law_check_rejects_a_wrong_variance():
    """Power: weights of variance 1.1 (a mis-scaled sampler) are rejected."""
    p = _drift_pvalues("numba", seed=50, scale=math.sqrt(1.1))
    assert p.min() < 0.01 / p.size, p


def test_kernel_weights_have_the_declared_laws():
    """The numba kernels' own sampler: gaussian N(0, 1), uniform U[−√3, √3], uniform_pos
    U[0, 2√3] (KS on 40 000 draws from several generators and blocks), scale and mean applied
    in the reference's order; and a wrong law is rejected by the same test."""
    key = philox_key(np.random.default_rng(3))
    s3 = math.sqrt(3.0)
    laws = {"gaussian": "norm", "uniform": ("uniform", (-s3, 2 * s3)),
            "uniform_pos": ("uniform", (0.0, 2 * s3))}
    for fn in ("rank_chain", "lyapunov_qr", "one_step_drift"):
        for law, dist in laws.items():
            x = np.concatenate([trial_weights(key, fn, b, 25, 20, law).ravel()
                                for b in range(4)])
            name, args = (dist, ()) if isinstance(dist, str) else dist
            assert kstest(x, name, args=args).pvalue > 1e-4, (fn, law)
            y = np.concatenate([trial_weights(key, fn, b, 25, 20, law, 0.5, 0.25).ravel()
                                for b in range(4)])
            np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=0, atol=1e-15)
        # power: the gaussian weights are not U[−√3, √3], nor N(0.05, 1)
        x = trial_weights(key, fn, 0, 100, 20, "gaussian").ravel()
        assert kstest(x, "uniform", args=(-s3, 2 * s3)).pvalue < 1e-6
        assert kstest(x, "norm", args=(0.05, 1.0)).pvalue < 1e-4
    # generators of different trials, streams and keys differ
    a = trial_weights(key, "rank_chain", 0, 2, 4)
    assert not np.array_equal(a, trial_weights(key, "rank_chain", 1, 2, 4))
    assert not np.array_equal(a, trial_weights(key, "lyapunov_qr", 0, 2, 4))
    assert not np.array_equal(a, trial_weights((key[0] ^ 1, key[1]), "rank_chain", 0, 2, 4))
    # consecutive blocks continue one stream
    np.testing.assert_array_equal(trial_weights(key, "rank_chain", 0, 3, 4)[:2], a)


def test_one_step_drift_refuses_engines_by_name():
    with pytest.raises(UnsupportedEngineError, match="one_step_drift has no 'cuda' engine"):
        one_step_drift(np.eye(3), 0.1, draws=2, rng=np.random.default_rng(0), backend="cuda")
    with pytest.raises(ValueError, match="backend"):
        one_step_drift(np.eye(3), 0.1, draws=2, rng=np.random.default_rng(0), backend="torch")


def test_numba_results_do_not_depend_on_the_thread_count(monkeypatch):
    """Every trial (draw) has its own generator: a call run on one thread (small calls) and on
    the pool gives the same numbers."""
    from depthcheck.kernels.backends.numba import rank as nb
    X = np.random.default_rng(4).standard_normal((6, 5, 5))
    kw = dict(gamma=0.5, weights="uniform", norm="bn", activation="relu", record=STATISTICS,
              top_k=3, backend="numba")
    runs = []
    for limit in (0.0, math.inf):
        monkeypatch.setattr(nb, "_PARALLEL_MIN_FLOPS", limit)
        runs.append((rank_chain(X, 9, rng=np.random.default_rng(1), **kw),
                     lyapunov_qr(3, 50, trials=5, rng=np.random.default_rng(2),
                                 backend="numba"),
                     one_step_drift(_drift_cases(), 0.1, draws=130,
                                    rng=np.random.default_rng(3), backend="numba")))
    (a, la, da), (b, lb, db) = runs
    for s in STATISTICS:
        np.testing.assert_array_equal(a[s], b[s])
    np.testing.assert_array_equal(la, lb)
    np.testing.assert_array_equal(da, db)


def test_jacobi_log_sv_matches_lapack_singular_values():
    """"log_sv" of narrow chains (<= 8 rows) comes from the one-sided Jacobi SVD, "rank"
    from LAPACK's: on the same chain (same key) both routes give the same log σ_k/σ_1."""
    X = np.random.default_rng(5).standard_normal((8, 6, 6))
    kw = dict(rng=None, gamma=math.inf, norm="none", record_every=3, top_k=6, backend="numba")
    jac = rank_chain(X, 30, **{**kw, "rng": np.random.default_rng(6)}, record=("log_sv",))
    lap = rank_chain(X, 30, **{**kw, "rng": np.random.default_rng(6)},
                     record=("log_sv", "rank"))
    a, b = jac["log_sv"], lap["log_sv"]
    ok = b > -25.0                                   # ratios above ~1e-11 (rounding below)
    assert ok.mean() > 0.5
    np.testing.assert_allclose(a[ok], b[ok], rtol=1e-7, atol=1e-8)
