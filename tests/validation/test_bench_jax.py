"""The JAX bench row: JAX is not a dependency, so without it the rows say so and carry no
baseline time (never a made-up ratio); with it, the JAX chain computes the same statistic."""
import numpy as np
import pytest

from depthcheck.validation.bench import jax_chain


def _fake_measure(which, cores, d, L, B, repeat):
    return {"wall": 1.0, "cpu": 0.5, "final_gap": 1e-3}


def test_rows_without_jax_say_so_and_have_no_ratio(monkeypatch):
    monkeypatch.setattr(jax_chain, "_have_jax", lambda: False)
    monkeypatch.setattr(jax_chain, "_measure", _fake_measure)
    rows = jax_chain.bench(quick=True)
    assert len(rows) == 2 * len(jax_chain.WIDTHS)
    for r in rows:
        assert r["baseline"].startswith("jax not installed")
        assert r["baseline_s"] is None and r["ratio"] is None
        assert r["ours_s"] in (0.5, 1.0)


def test_jax_chain_gap_matches_the_numpy_isometry_gap_when_jax_is_there():
    pytest.importorskip("jax")
    from depthcheck.kernels.chain.driver import simulate_chain
    d, L, B = 8, 30, 64
    X = jax_chain._fig1_input(d, 0)
    fn, args = jax_chain.jax_fig1_chain(X, L, B, seed=1)
    gap_jax = np.asarray(fn(*args))
    assert gap_jax.shape == (B, L + 1)
    ours = simulate_chain(X, L, trials=B, rng=np.random.default_rng(2), norm="rownorm",
                          activation="identity", record=("isometry_gap",))["isometry_gap"]
    # same chain, different random numbers: the final mean gaps agree within sampling error
    a, b = np.log(gap_jax[:, -1]), np.log(ours[:, -1])
    se = np.sqrt(a.var(ddof=1) / B + b.var(ddof=1) / B)
    assert abs(a.mean() - b.mean()) < 5 * se
