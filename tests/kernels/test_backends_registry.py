"""The engine registry: explicit, lazy, no import-time side effects, never a silent fallback."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from depthcheck.kernels import backends as engines
from depthcheck.kernels.chain.driver import simulate_chain
from depthcheck.kernels.chain.errors import UnsupportedEngineError


def _fresh(script: str) -> str:
    env_script = textwrap.dedent(script)
    out = subprocess.run([sys.executable, "-c", env_script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_importing_the_registry_imports_no_engine():
    out = _fresh("""
        import sys
        import depthcheck.kernels.backends as b
        import depthcheck.kernels.chain.driver
        print(sorted(m for m in sys.modules if m.startswith("depthcheck.kernels.backends.")
                     or m == "numba" or m.startswith("depthcheck.kernels.chain.reduced")))
    """)
    assert out.strip() == "['depthcheck.kernels.backends.numpy']"


def test_first_numba_chain_in_a_fresh_process_runs_numba():
    """Regression: the first chain task of a process used to run the numpy engine because the
    numba backend was registered as a side effect of an import that had not happened yet."""
    out = _fresh("""
        import numpy as np
        from unittest import mock
        from depthcheck.kernels import simulate_chain
        import depthcheck.kernels.backends.numba.fused as nf
        with mock.patch.object(nf, "run_fused", wraps=nf.run_fused) as spy:
            simulate_chain(np.eye(6), 3, trials=2, rng=np.random.default_rng(0),
                           backend="numba")
        print("fused calls", spy.call_count)
    """)
    assert out.strip() == "fused calls 1"


def test_cuda_without_a_gpu_is_refused_by_name(monkeypatch):
    """Regression: backend="cupy" without a GPU returned the numpy results without a word."""
    import depthcheck.kernels.backends.cuda.chain as cc
    monkeypatch.setattr(cc, "cuda_available", lambda: False)
    for name in ("cuda", "cupy"):
        with pytest.raises(UnsupportedEngineError, match="backend='cuda' cannot run on this "
                                                         "machine.*no CUDA GPU"):
            simulate_chain(np.eye(4), 2, trials=1, rng=np.random.default_rng(0), backend=name)
    assert "cuda" not in engines.available_backends()


def test_cuda_refuses_a_request_it_does_not_implement(monkeypatch):
    """With a GPU (here: pretended), an unsupported configuration names what is unsupported and
    what would run it, instead of running the numpy layer methods the class inherits."""
    import depthcheck.kernels.backends.cuda.chain as cc
    monkeypatch.setattr(cc, "cuda_available", lambda: True)
    with pytest.raises(UnsupportedEngineError, match="weights='gaussian'.*'numba' or 'numpy'"):
        simulate_chain(np.eye(4), 2, trials=1, rng=np.random.default_rng(0), weights="gaussian",
                       backend="cuda")
    with pytest.raises(UnsupportedEngineError, match="soft_rank"):
        simulate_chain(np.eye(4), 2, trials=1, rng=np.random.default_rng(0), record="soft_rank",
                       backend="cuda")


def test_method_and_backend_axes():
    assert engines.resolve("full", "cupy") == ("full", "cuda")
    assert engines.resolve("full", "reduced") == ("reduced", "numpy")
    assert engines.resolve("full", "reduced_numba") == ("reduced", "numba")
    with pytest.raises(UnsupportedEngineError, match="method='reduced' has no 'cuda' engine"):
        engines.get_engine("reduced", "cuda")
    for bad, arg in [(dict(method="half"), "method"), (dict(backend="torch"), "backend"),
                     (dict(backend=None), "backend")]:
        with pytest.raises(ValueError, match=arg):
            simulate_chain(np.eye(4), 2, trials=1, rng=np.random.default_rng(0), **bad)
    with pytest.raises(UnsupportedEngineError, match="n <= d"):
        simulate_chain(np.ones((3, 5)), 2, trials=1, rng=np.random.default_rng(0),
                       method="reduced")


def test_reduced_method_runs_the_reduced_engine_on_both_backends():
    X = np.random.default_rng(1).standard_normal((16, 4))
    a = simulate_chain(X, 3, trials=2, rng=np.random.default_rng(2), method="reduced",
                       record="isometry_gap")
    b = simulate_chain(X, 3, trials=2, rng=np.random.default_rng(2), backend="reduced",
                       record="isometry_gap")
    np.testing.assert_array_equal(a["isometry_gap"], b["isometry_gap"])
    c = simulate_chain(X, 3, trials=2, rng=np.random.default_rng(2), method="reduced",
                       backend="numba", record="isometry_gap")
    assert c["isometry_gap"].shape == a["isometry_gap"].shape
