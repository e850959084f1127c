"""The JAX bench row: JAX is not a dependency, so without it the rows say so and carry no
baseline time (never a made-up ratio); with it, the JAX chain computes the same statistic."""
import numpy as np
import pytest

from depthcheck.validation.bench import jax_chain


def _fake_measure(which, cores, d, L, B, repeat):
    return {"wall": 1.0, "cpu": 0.5, "final_gap": 1e-3}


def test_rows_without_jax_say_so_and_have_no_ratio(monkeypatch):
    monkeypatch.setattr(jax_chain, "_jax_version", lambda: None)
    monkeypatch.setattr(jax_chain, "_measure", _fake_measure)
    monkeypatch.setattr(jax_chain, "_one_core_costs", lambda: (40e9, 5e-9))
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


def test_max_ratio_is_jax_time_over_flops_and_normals(monkeypatch):
    """max_ratio: what an implementation doing only its flops (at R1) and its d(d+1)/2 normals
    per layer and trial could reach against JAX; max_ratio_tracked the same with the Haar
    rotation's flops alone (the tracked chain factorises no Gram between anchors); recomputed
    here from the row's sizes."""
    monkeypatch.setattr(jax_chain, "_jax_version", lambda: "0.test")
    monkeypatch.setattr(jax_chain, "_measure",
                        lambda which, cores, d, L, B, repeat:
                        {"wall": 3.0 if which == "jax" else 1.0,
                         "cpu": 2.0 if which == "jax" else 0.5, "final_gap": 1e-3})
    R1, t_normal = 40e9, 5e-9
    monkeypatch.setattr(jax_chain, "_one_core_costs", lambda: (R1, t_normal))
    rows = jax_chain.bench(quick=True)
    one = [r for r in rows if r["cores"] == 1]
    assert len(one) == len(jax_chain.WIDTHS)
    for d, r in zip(jax_chain.WIDTHS, one):
        L, B = jax_chain._sizes(d, True)
        floor = B * L * (2 * d**3 + d**3 + d**3 / 3) / R1
        rng = B * L * d * (d + 1) / 2 * t_normal
        assert r["floor_1core_s"] == pytest.approx(floor)
        assert r["rng_1core_s"] == pytest.approx(rng)
        assert r["max_ratio"] == pytest.approx(2.0 / (floor + rng))
        haar = B * L * 2 * d**3 / R1                # the rotation alone: the tracked chain
        assert r["haar_floor_1core_s"] == pytest.approx(haar)
        assert r["max_ratio_tracked"] == pytest.approx(2.0 / (haar + rng))
        assert r["floor_ratio_1core"] == pytest.approx(0.5 / floor)
        assert r["ratio"] == pytest.approx(4.0)
    assert all("max_ratio" not in r and "max_ratio_tracked" not in r
               for r in rows if r["cores"] == 2)
