"""Backend "cupy": the numba.cuda chain kernel, run on the CPU by numba's CUDA simulator.

``NUMBA_ENABLE_CUDASIM=1`` must be set before numba is imported, so the simulator runs in a
subprocess. Oracle: the numba CPU kernel with ``method="box_muller"``, which draws exactly the
same Philox4x32-10 numbers (``depthcheck.kernels.random.philox``) and is itself tested against the numpy engine
exactly and in law (tests/kernels/test_numba_chain.py); agreement is to rounding. Sizes are tiny
(the simulator runs every GPU thread as a Python thread). Tests needing CuPy and a real GPU skip
cleanly without them. Gradients: tests/kernels/test_cuda_chain_grad.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

_SIM_SCRIPT = textwrap.dedent("""
    import json, numpy as np
    from depthcheck.kernels.backends.cuda import chain as cc
    from depthcheck.kernels.backends.numba import fused as nc
    from depthcheck.kernels.chain.driver import ChainBreakdownError
    from depthcheck.kernels.chain.spec import ChainSpec
    rec = cc.CUDA_STATISTICS
    out = {"available": cc.cuda_available(), "cases": []}
    cases = [dict(), dict(norm="bn", activation="tanh", residual=0.4, gain_exponent=0.3),
             dict(norm="none", activation="relu", order="act_norm")]
    for kw in cases:
        X = np.random.default_rng(5).standard_normal((6, 4))
        spec = ChainSpec.from_arguments(
            X, 2, trials=2, rng=np.random.default_rng(0), norm=kw.get("norm", "rownorm"),
            activation=kw.get("activation", "identity"), order=kw.get("order", "norm_act"),
            gain_exponent=kw.get("gain_exponent"), residual=kw.get("residual"), record=rec)
        key = (7, 9)
        a = cc.run_cuda(spec, X, key, rec, 1, tpb=8)
        b = nc.run_fused(spec, X, key, rec, 1, 0.5, 10, "box_muller")
        out["cases"].append({k: [np.asarray(a[k]).tolist(), np.asarray(b[k]).tolist()]
                             for k in a if k != "layers"})
    try:
        cc.simulate_chain_cuda(np.ones((5, 1)), 2, trials=1, rng=np.random.default_rng(0),
                               norm="bn", threads_per_block=4, record=rec)
        out["breakdown"] = None
    except ChainBreakdownError as exc:
        out["breakdown"] = str(exc)
    errors = {}
    for name, kw in [("weights", dict(weights="gaussian")), ("record", dict(record=("soft_rank",))),
                     ("threads_per_block", dict(threads_per_block=6))]:
        try:
            cc.simulate_chain_cuda(np.eye(4, 2) + 1, 2, trials=1, rng=np.random.default_rng(0),
                                   **{"record": rec, **kw})
            errors[name] = None
        except ValueError as exc:
            errors[name] = str(exc)
    out["errors"] = errors
    print("JSON" + json.dumps(out))
""")


def _run(script, sim: bool, timeout=300):
    env = dict(os.environ)
    if sim:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    else:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=timeout,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def simulated():
    out = _run(_SIM_SCRIPT, sim=True)
    return json.loads(out.split("JSON", 1)[1])


def test_simulated_cuda_kernel_equals_numba_kernel_on_the_same_stream(simulated):
    assert simulated["available"]
    assert len(simulated["cases"]) == 3
    for case in simulated["cases"]:
        for name, (a, b) in case.items():
            np.testing.assert_allclose(np.array(a, dtype=float), np.array(b, dtype=float),
                                       rtol=1e-11, atol=1e-12, err_msg=name)


def test_simulated_cuda_kernel_reports_breakdown_and_refuses_unsupported(simulated):
    assert simulated["breakdown"] is not None and "layer 1" in simulated["breakdown"]
    for name, msg in simulated["errors"].items():
        assert msg is not None and name in msg, (name, msg)


def test_module_imports_without_cupy_and_without_a_gpu():
    script = textwrap.dedent("""
        import sys
        sys.modules["cupy"] = None          # make "import cupy" fail even where it exists
        import depthcheck.kernels.backends.cuda.chain as cc
        from depthcheck.kernels import backends
        print("OK", cc._cupy() is None, backends.ENGINES[("full", "cuda")])
    """)
    out = _run(script, sim=False, timeout=120)
    assert out.strip().startswith("OK True depthcheck.kernels.backends.cuda.chain:CupyChainBackend")


@pytest.mark.gpu
def test_cupy_gpu_kernel_equals_numba_kernel():
    pytest.importorskip("cupy")
    from depthcheck.kernels.backends.cuda import chain as cc
    from numba import cuda
    if not cuda.is_available():
        pytest.skip("no CUDA GPU")
    from depthcheck.kernels.backends.numba import fused as nc
    from depthcheck.kernels.chain.spec import ChainSpec
    X = np.random.default_rng(5).standard_normal((40, 24))
    spec = ChainSpec.from_arguments(X, 20, trials=8, rng=np.random.default_rng(0), weights='haar', norm='rownorm', activation='tanh', order='norm_act', gains=None, gain_exponent=0.3, residual=None, weight_std=None, record_every=1, record=cc.CUDA_STATISTICS, tau=0.5, gradients=False, labels=None, n_out=10, checkpoint_every=None, method='full', backend='numpy', n_singular=10, progress=False)
    a = cc.run_cuda(spec, X, (3, 4), cc.CUDA_STATISTICS, 1)
    b = nc.run_fused(spec, X, (3, 4), cc.CUDA_STATISTICS, 1, 0.5, 10, "box_muller")
    for k in cc.CUDA_STATISTICS:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-11)
