"""The CUDA chain kernels compile to PTX for a real GPU (sm_90, H100) — no GPU needed.

The CUDA simulator (test_cuda_chain*.py) runs the kernels' Python source, so it cannot catch
code that numba's CUDA *compiler* rejects (e.g. numba 0.68 fails to type builtin ``max``/``min``
on two floats on the CUDA target, which the simulator runs happily). This test traces the real
launch code of ``depthcheck.kernels.backends.cuda.chain.run_cuda`` with fake devices to get the argument types of
both kernels, then compiles them with ``numba.cuda.compile_ptx`` through NVVM from the
``nvidia-cuda-nvcc-cu12`` wheel (a ``[test]`` extra; skipped when it is not installed).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_SCRIPT = textwrap.dedent("""
    import json, sys, types as _t
    import numpy as np
    import numba
    from numba import cuda
    import numba.cuda.dispatcher as disp
    # compile for a stated compute capability without a device
    disp.get_current_device = lambda: _t.SimpleNamespace(compute_capability=(9, 0))
    from depthcheck.kernels.backends.cuda import chain as cc
    from depthcheck.kernels.chain.driver import ChainBreakdownError
    from depthcheck.kernels.chain.spec import ChainSpec

    class _Launch:                      # records the argument types of a kernel launch
        def __init__(self, name, log):
            self.name, self.log = name, log
        def __getitem__(self, config):
            def launch(*args):
                self.log[self.name] = tuple(numba.typeof(a) for a in args)
            return launch

    class _Host(np.ndarray):             # a "device array" that is just host memory
        def copy_to_host(self):
            return np.asarray(self).copy()

    log, pys = {}, {}
    real_kernels = cc._kernels
    def fake_kernels(tpb, shared=cc.SHARED_DOUBLES):
        fwd, bwd = real_kernels(tpb, shared)
        pys["forward"], pys["backward"] = fwd.py_func, bwd.py_func
        return _Launch("forward", log), _Launch("backward", log)

    cc._kernels = fake_kernels
    cc.cuda_available = lambda: True
    cc._cupy = lambda: None
    cuda.to_device = lambda a: np.ascontiguousarray(a).view(_Host)
    X = np.random.default_rng(0).standard_normal((8, 4))
    spec = ChainSpec.from_arguments(X, 3, trials=2, rng=np.random.default_rng(0), norm="bn",
                                    activation="tanh", residual=0.5,
                                    record=cc.CUDA_STATISTICS, gradients=True, n_out=3)
    try:
        cc.run_cuda(spec, X, (1, 2), cc.CUDA_STATISTICS, 1, gradients=True,
                    labels=np.array([0, 1, 2, 0]))
    except ChainBreakdownError:
        pass                             # the fake launches leave NaN outputs behind
    out = {}
    for name in ("forward", "backward"):
        sig = tuple(t.copy(readonly=False) if isinstance(t, numba.types.Array) else t
                    for t in log[name])
        ptx, resty = cuda.compile_ptx(pys[name], sig, cc=(9, 0))
        out[name] = {"chars": len(ptx), "entry": ".entry" in ptx, "target": ".target sm_90" in ptx}
    print("JSON" + json.dumps(out))
""")


def _nvcc_root():
    try:
        spec = importlib.util.find_spec("nvidia.cuda_nvcc")
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    return root if (root / "nvvm" / "lib64" / "libnvvm.so").exists() else None


def test_cuda_kernels_compile_to_ptx_for_sm90():
    root = _nvcc_root()
    if root is None:
        pytest.skip("NVVM not installed (pip install nvidia-cuda-nvcc-cu12, in the [test] extra)")
    env = dict(os.environ, CUDA_HOME=str(root), NUMBA_ENABLE_CUDASIM="0")
    repo = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=repo,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("JSON"))
    out = json.loads(line[4:])
    for name in ("forward", "backward"):
        assert out[name]["entry"] and out[name]["target"], out
        assert out[name]["chars"] > 10_000, out
