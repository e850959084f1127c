"""Gradients of the CUDA fused chain (depthcheck.kernels.backends.cuda.chain), run on numba's CUDA simulator.

Oracle: an independent explicit network on the same random numbers — W_l formed from
``householder_vectors_philox(key, l, b, d, "box_muller")`` by ``depthcheck.kernels.random.haar.
apply_householder_haar`` on the identity, W_out = ``readout_philox``, and ``kernels.
forward_backward(..., loss="xent")`` (itself checked against finite differences in
tests/kernels/test_forward_backward.py). The kernel's log‖∂loss/∂W_l‖_F must agree to rounding
(rtol 1e-8) for several norm / activation / order / residual / gain / checkpoint_every
combinations, whatever the segment length. All simulator runs share one subprocess
(``NUMBA_ENABLE_CUDASIM=1`` must be set before numba is imported; the simulator runs every GPU
thread as a Python thread, hence the tiny sizes). Tests needing CuPy and a real GPU skip
cleanly without them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from depthcheck.kernels.chain.driver import ChainBreakdownError, simulate_chain
from depthcheck.kernels.chain.spec import ChainSpec
from depthcheck.kernels.random.haar import apply_householder_haar
from depthcheck.kernels.nn.network import forward, forward_backward
from depthcheck.kernels.backends.numba.fused import householder_vectors_philox
from depthcheck.kernels.random.philox import key_from_root, readout_philox

_REC = ("isometry_gap", "rank_lower_bound", "row_norm_cv", "frobenius_M")

# name, (d, n, L, B, tpb, record_every, checkpoint_every, n_out, labels, key, x seed), options
_CASES = [
    ("rownorm-id", (4, 3, 3, 2, 2, 2, None, 3, [0, 2, 1], (7, 9), 1), {}),
    ("bn-tanh-res", (4, 3, 3, 1, 2, 1, 2, 4, [3, 0, 1], (1, 2), 2),
     dict(norm="bn", activation="tanh", residual=0.4, gain_exponent=0.3)),
    ("none-relu-actnorm", (4, 2, 3, 1, 2, 3, 1, 2, [1, 1], (3, 4), 3),
     dict(norm="none", activation="relu", order="act_norm")),
    ("bnnomean-sigmoid-actnorm-res", (3, 3, 2, 1, 2, 1, 5, 3, [2, 0, 0], (5, 6), 4),
     dict(norm="bn_nomean", activation="sigmoid", order="act_norm", residual=-0.7)),
    ("none-leaky-gains-res-global", (3, 2, 3, 1, 2, 1, 2, 2, [0, 1], (8, 1), 5),
     dict(norm="none", activation="leaky_relu", gains=[1.3, 0.6, 2.0], residual=0.5,
          shared=4)),          # d·n > 4 doubles of shared memory: H, dA, dH in global memory
    ("rownorm-sin-actnorm", (3, 2, 2, 1, 4, 2, 1, 3, [2, 1], (2, 2), 6),
     dict(norm="rownorm", activation="sin", order="act_norm", gain_exponent=-0.5)),
    ("none-tanh-batchedX", (3, 2, 2, 2, 2, 1, None, 2, [1, 0], (4, 4), 7),
     dict(norm="none", activation="tanh", batched=True)),
    ("bn-relu", (4, 3, 2, 1, 2, 1, 1, 2, [0, 1, 0], (9, 3), 8),
     dict(norm="bn", activation="relu")),
]
# every earlier gradient is exactly zero: huge gains make the capped softmax exactly one-hot,
# and the labels (set below) are the argmax classes
_ZERO = ("zero", (3, 2, 2, 1, 2, 1, None, 2, None, (6, 1), 9),
         dict(norm="none", activation="identity", gains=[1e100, 1e100]))
# backward overflow: sin with gain 1e300 keeps H bounded but dA ~ 1e300 -> ‖dH_1‖_F² = inf
_OVERFLOW = dict(norm="none", activation="sin", gains=[1e300, 1e300])


def _X(case):
    _, (d, n, L, B, *_, xseed), opt = case
    shape = (B, d, n) if opt.get("batched") else (d, n)
    return np.random.default_rng(xseed).standard_normal(shape)


def _spec(case, X, labels):
    _, (d, n, L, B, tpb, re, kc, n_out, *_), opt = case
    return ChainSpec.from_arguments(X, L, trials=B, rng=np.random.default_rng(0), weights='haar', norm=opt.get('norm', 'rownorm'), activation=opt.get('activation', 'identity'), order=opt.get('order', 'norm_act'), gains=opt.get('gains'), gain_exponent=opt.get('gain_exponent'), residual=opt.get('residual'), weight_std=None, record_every=re, record=_REC, tau=0.5, gradients=True, labels=labels, n_out=n_out, checkpoint_every=kc, method='full', backend='numpy', n_singular=10, progress=False)


def _explicit(spec, key):
    """[W_1, ..., W_L] (each (B, d, d)) and W_out for the kernels' Philox stream."""
    B, d = spec.trials, spec.d
    eye = np.eye(d)
    Ws = [np.stack([apply_householder_haar(householder_vectors_philox(key, l, b, d, "box_muller"),
                                           eye) for b in range(B)])
          for l in range(1, spec.depth + 1)]
    return Ws, readout_philox(key, B, spec.n_out, d, method="box_muller")


def _reference(spec, X, key, labels, grad_layers):
    """log‖∂loss/∂W_l‖_F of the explicit network, (B, G)."""
    Ws, W_out = _explicit(spec, key)
    _, grads = forward_backward(X, Ws + [W_out], labels, norm=spec.norm,
                                activation=spec.activation, loss="xent", order=spec.order,
                                gains=spec.gains, residual=spec.residual)
    with np.errstate(divide="ignore"):
        return np.stack([0.5 * np.log(np.einsum("bij,bij->b", grads[l - 1], grads[l - 1]))
                         for l in grad_layers], axis=1)


def _zero_labels():
    """The argmax classes of the (unscaled) logits of the _ZERO network."""
    X = _X(_ZERO)
    spec = _spec(_ZERO, X, None)
    Ws, W_out = _explicit(spec, _ZERO[1][9])
    Z = forward(X, Ws + [W_out], norm=spec.norm, activation=spec.activation, order=spec.order,
                gains=spec.gains)
    assert np.all(np.isfinite(Z)) and np.min(np.abs(Z)) > 1e150    # logits ~ 1e200: one-hot
    return np.argmax(Z[0], axis=0).tolist()


_SIM_SCRIPT = textwrap.dedent("""
    import json, sys, time, numpy as np
    from depthcheck.kernels.backends.cuda import chain as cc
    from depthcheck.kernels.chain.driver import ChainBreakdownError, simulate_chain
    from depthcheck.kernels.chain.spec import ChainSpec
    rec = tuple(json.loads(sys.argv[1])["rec"])
    jobs = json.loads(sys.argv[1])["jobs"]
    out = {"available": cc.cuda_available(), "cases": []}
    for job in jobs:
        X = np.array(job["X"])
        d, n, L, B, tpb, re, kc, n_out, labels, key, _ = job["cfg"]
        opt = job["opt"]
        spec = ChainSpec.from_arguments(
            X, L, trials=B, rng=np.random.default_rng(0), weights="haar",
            norm=opt.get("norm", "rownorm"), activation=opt.get("activation", "identity"),
            order=opt.get("order", "norm_act"), gains=opt.get("gains"),
            gain_exponent=opt.get("gain_exponent"), residual=opt.get("residual"),
            record_every=re, record=rec, gradients=True, labels=np.array(labels),
            n_out=n_out, checkpoint_every=kc)
        X, labels, kc = spec.X, spec.labels, spec.checkpoint_every
        t = time.perf_counter()
        sh = opt.get("shared", cc.SHARED_DOUBLES)
        g = cc.run_cuda(spec, X, tuple(key), rec, re, tpb, gradients=True, labels=labels,
                        checkpoint_every=kc, shared_doubles=sh)
        res = {k: np.asarray(v).tolist() for k, v in g.items()}
        res["seconds"] = time.perf_counter() - t
        if job["forward_too"]:
            f = cc.run_cuda(spec, X, tuple(key), rec, re, tpb)
            res["forward"] = {k: np.asarray(v).tolist() for k, v in f.items()}
        out["cases"].append(res)
    # the driver: simulate_chain(backend="cupy") hands the whole chain to the fused kernels
    t = time.perf_counter()
    drv = simulate_chain(np.random.default_rng(11).standard_normal((3, 2)), 2, trials=1,
                         rng=np.random.default_rng(12), backend="cupy", gradients=True,
                         n_out=2, norm="bn_nomean", activation="tanh", record=("isometry_gap",),
                         record_every=2, checkpoint_every=1)
    out["driver"] = {k: np.asarray(v).tolist() for k, v in drv.items()}
    out["driver_seconds"] = time.perf_counter() - t
    try:
        cc.simulate_chain_cuda(np.random.default_rng(13).standard_normal((3, 2)), 2, trials=1,
                               rng=np.random.default_rng(14), gradients=True, n_out=2,
                               record=(), **json.loads(sys.argv[1])["overflow"])
        out["overflow"] = None
    except ChainBreakdownError as exc:
        out["overflow"] = str(exc)
    print("JSON" + json.dumps(out))
""")


def _run(script, args, timeout=300):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", script, args], env=env, capture_output=True,
                          text=True, timeout=timeout,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("JSON", 1)[1])


@pytest.fixture(scope="module")
def simulated():
    zero = (_ZERO[0], _ZERO[1][:8] + (_zero_labels(),) + _ZERO[1][9:], _ZERO[2])
    cases = _CASES + [zero]
    jobs = [{"X": _X(c).tolist(), "cfg": list(c[1]), "opt": c[2], "forward_too": i == 0}
            for i, c in enumerate(cases)]
    out = _run(_SIM_SCRIPT, json.dumps({"rec": _REC, "jobs": jobs, "overflow": _OVERFLOW}))
    return cases, out


def test_simulated_gradients_equal_the_explicit_network_on_the_same_random_numbers(simulated):
    cases, out = simulated
    assert out["available"] and len(out["cases"]) == len(cases)
    for case, res in zip(cases[:-1], out["cases"]):
        name, (d, n, L, B, tpb, re, kc, n_out, labels, key, _), _ = case
        X = _X(case)
        spec = _spec(case, X, np.array(labels))
        grad_layers = np.array(res["grad_layers"])
        assert grad_layers.tolist() == sorted({1} | set(range(re, L + 1, re))), name
        ref = _reference(spec, X, key, np.array(labels), grad_layers)
        got = np.array(res["log_grad_norm"])
        assert got.shape == (B, grad_layers.size), name
        assert np.all(np.isfinite(ref)), name
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=0, err_msg=name)
        assert res["labels"] == labels, name


def test_simulated_zero_gradient_is_minus_inf(simulated):
    cases, out = simulated
    name, (d, n, L, B, tpb, re, kc, n_out, labels, key, _), _ = cases[-1]
    spec = _spec(cases[-1], _X(cases[-1]), np.array(labels))
    ref = _reference(spec, _X(cases[-1]), key, np.array(labels), np.arange(1, L + 1))
    assert np.all(ref == -np.inf)                       # the explicit network agrees: exactly 0
    assert np.all(np.array(out["cases"][-1]["log_grad_norm"]) == -np.inf)


def test_simulated_statistics_with_gradients_equal_the_forward_kernel_exactly(simulated):
    _, out = simulated
    res = out["cases"][0]
    for name in ("layers",) + _REC:
        np.testing.assert_array_equal(np.array(res[name]), np.array(res["forward"][name]),
                                      err_msg=name)
    assert set(res) - set(res["forward"]) == {"grad_layers", "log_grad_norm", "labels",
                                              "seconds", "forward"}


def test_simulated_driver_hands_gradients_to_the_fused_kernels(simulated):
    """simulate_chain(backend="cupy"): same rng consumption as numpy (root, then labels), the
    kernels' key derived from root, and gradients equal to the explicit network's."""
    _, out = simulated
    drv = out["driver"]
    X = np.random.default_rng(11).standard_normal((3, 2))
    kw = dict(trials=1, gradients=True, n_out=2, norm="bn_nomean", activation="tanh",
              record=("isometry_gap",), record_every=2, checkpoint_every=1)
    ref_np = simulate_chain(X, 2, rng=np.random.default_rng(12), backend="numpy", **kw)
    assert set(drv) == set(ref_np)
    assert drv["labels"] == ref_np["labels"].tolist()
    assert drv["grad_layers"] == ref_np["grad_layers"].tolist() == [1, 2]
    rng = np.random.default_rng(12)
    root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
    spec = ChainSpec.from_arguments(X, 2, trials=1, rng=rng, weights='haar', norm='bn_nomean', activation='tanh', order='norm_act', gains=None, gain_exponent=None, residual=None, weight_std=None, record_every=2, record=(), tau=0.5, gradients=True, labels=None, n_out=2, checkpoint_every=1, method='full', backend='numpy', n_singular=10, progress=False)
    ref = _reference(spec, X, key_from_root(root), np.array(drv["labels"]), np.array([1, 2]))
    np.testing.assert_allclose(np.array(drv["log_grad_norm"]), ref, rtol=1e-8, atol=0)


def test_simulated_backward_overflow_raises_like_the_numpy_driver(simulated):
    _, out = simulated
    assert out["overflow"] is not None and out["overflow"].startswith("layer 1, trial 0:")
    assert "backward signal is not finite" in out["overflow"]
    with pytest.raises(ChainBreakdownError, match=r"layer 1, trial 0: the backward signal"):
        simulate_chain(np.random.default_rng(13).standard_normal((3, 2)), 2, trials=1,
                       rng=np.random.default_rng(14), gradients=True, n_out=2, record=(),
                       **_OVERFLOW)


def test_fused_accepts_haar_gradients_and_refuses_unsupported_configs(monkeypatch):
    """Checked before anything CUDA runs (no simulator needed; a GPU is pretended so that the
    request itself, not the machine, is what gets refused)."""
    from depthcheck.kernels.backends.cuda import chain as cc
    monkeypatch.setattr(cc, "cuda_available", lambda: True)
    X = np.random.default_rng(0).standard_normal((4, 2))
    spec = ChainSpec.from_arguments(X, 3, trials=2, rng=np.random.default_rng(0), weights='haar', norm='bn', activation='relu', order='norm_act', gains=None, gain_exponent=None, residual=0.5, weight_std=None, record_every=1, record=_REC, tau=0.5, gradients=True, labels=None, n_out=2, checkpoint_every=None, method='full', backend='numpy', n_singular=10, progress=False)
    assert cc.CupyChainBackend.unsupported(spec, _REC, True) is None
    assert "soft_rank" in cc.CupyChainBackend.unsupported(spec, ("soft_rank",), True)
    gspec = spec._replace(weights="gaussian", weight_std=0.5)
    assert "weights" in cc.CupyChainBackend.unsupported(gspec, _REC, True)
    for name, kw in [("weights", dict(weights="gaussian")),
                     ("record", dict(record=("soft_rank",))),
                     ("X", dict(X=np.ones((2, 3)))),
                     ("n_out", dict(n_out=5)),
                     ("labels", dict(labels=[0, 7])),
                     ("checkpoint_every", dict(checkpoint_every=0)),
                     ("threads_per_block", dict(threads_per_block=3))]:
        args = dict(X=X, depth=2, trials=1, rng=np.random.default_rng(0), gradients=True,
                    n_out=2, record=_REC)
        args.update(kw)
        with pytest.raises(ValueError, match=name):
            cc.simulate_chain_cuda(args.pop("X"), args.pop("depth"), **args)


def test_default_threads_per_block():
    from depthcheck.kernels.backends.cuda.chain import default_threads_per_block as tpb
    assert [tpb(d) for d in (1, 2, 3, 4, 5, 64, 65, 1000)] == [1, 2, 4, 4, 8, 64, 128, 128]


@pytest.mark.gpu
def test_cupy_gpu_gradients_equal_the_explicit_network():
    pytest.importorskip("cupy")
    from numba import cuda
    if not cuda.is_available():
        pytest.skip("no CUDA GPU")
    from depthcheck.kernels.backends.cuda import chain as cc
    X = np.random.default_rng(5).standard_normal((24, 8))
    labels = np.random.default_rng(6).integers(0, 10, size=8)
    for opt in (dict(norm="rownorm", activation="tanh", gain_exponent=0.3),
                dict(norm="none", activation="relu", residual=0.5)):
        case = ("gpu", (24, 8, 12, 4, 64, 3, None, 10, labels.tolist(), (3, 4), 5), opt)
        spec = _spec(case, X, labels)
        X_, lab, kc = spec.X, spec.labels, spec.checkpoint_every
        out = cc.run_cuda(spec, X_, (3, 4), _REC, 3, gradients=True, labels=lab,
                          checkpoint_every=kc)
        ref = _reference(spec, X_, (3, 4), lab, out["grad_layers"])
        np.testing.assert_allclose(out["log_grad_norm"], ref, rtol=1e-8, atol=0)
